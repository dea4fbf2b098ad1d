package httpapi

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/router"
)

// A plain-HTTP listener is served by two servers, so that events come in
// at the cost of HTTP alone and the rest of the API keeps all of net/http.
//
//   - fasthttp's server reads every connection's requests. Event ingress
//     (POST /events and POST /buses/{bus}/events) it answers itself, on the
//     connection's goroutine, through the same handler net/http would call
//     (serveIngress), with pooled buffers and no goroutine per request.
//   - Any other request hands its connection over to net/http's server: the
//     request, as read, is replayed in front of what the client sends next.
//     net/http serves it and the connection's later requests, with what the
//     rest of the API relies on: streams that end when the client goes,
//     deadlines per request, Go's own answers to malformed requests.
//
// A producer's connections, which carry only events, stay on the fast
// server; a CLI's or the console's move over on their first request. Both
// servers apply the config's http limits. A TLS listener is net/http's
// alone, so that it can offer HTTP/2.
type fastLane struct {
	srv     *Server
	fast    *fasthttp.Server
	handoff *handoffListener
	// base carries the context of every ingress request; each request is a
	// copy of it.
	base  *http.Request
	calls sync.Pool // of *ingressCall
}

// newFastLane returns the fast server of ln's plain-HTTP listener, within
// c's limits, and the listener net/http's server must serve the
// connections it hands over on.
func (b *Server) newFastLane(c bus.HTTPConfig, ln net.Listener) *fastLane {
	l := &fastLane{
		srv:     b,
		handoff: newHandoffListener(ln.Addr()),
		base:    (&http.Request{Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}).WithContext(context.Background()),
	}
	l.calls.New = func() any { return &ingressCall{header: http.Header{}, answer: http.Header{}} }
	l.fast = &fasthttp.Server{
		Handler:      l.serve,
		ErrorHandler: l.refuse,
		// The whole request head must fit the read buffer; net/http
		// allows the same 4 KiB over MaxHeaderBytes.
		ReadBufferSize: c.MaxHeaderBytes + 4096,
		// Bodies are read by the handlers as they arrive (ingress after
		// authentication): the server reads at most prefetchBytes of
		// one before calling them (and answers Expect: 100-continue),
		// and allocates no more for what a request only announces.
		StreamRequestBody:  true,
		MaxRequestBodySize: prefetchBytes,
		ReadTimeout:        time.Duration(c.ReadHeaderTimeout),
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: time.Duration(c.ReadTimeout)}
		},
		WriteTimeout: time.Duration(c.WriteTimeout),
		IdleTimeout:  time.Duration(c.IdleTimeout),
		// Idle keep-alive connections hold no buffers: a connection costs
		// its read buffer only while a request is being read.
		ReduceMemoryUsage:            true,
		KeepHijackedConns:            true, // net/http's now
		CloseOnShutdown:              true,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		SecureErrorLogMessage:        true,
		Logger:                       fastLog{b.log},
	}
	return l
}

// prefetchBytes is how much of a body the fast server reads with the
// request's headers; the rest is read as the handler asks for it.
const prefetchBytes = 8 << 10

// serve answers event ingress and hands over any other request.
func (l *fastLane) serve(ctx *fasthttp.RequestCtx) {
	defer l.recoverPanic(ctx)
	busName, ok := ingressBus(ctx)
	if !ok {
		l.handOver(ctx)
		return
	}
	call := l.calls.Get().(*ingressCall)
	defer l.release(call)
	r := call.request(l.base, ctx)
	w := call.response(ctx)
	if ae := tooManyHeaders(r.Header, l.srv.Config().HTTP.MaxHeaderCount); ae != nil {
		w.Header().Set("Connection", "close")
		writeError(w, ae)
		return
	}
	l.srv.serveIngress(w, r, busName)
	if ctx.Response.StatusCode() == http.StatusRequestEntityTooLarge {
		lingerAfter(ctx, l.fast.WriteTimeout)
	}
}

// release keeps call for the next request, without its request's body
// stream, which is the server's again once the handler returns.
func (l *fastLane) release(call *ingressCall) {
	call.body.stream = nil
	l.calls.Put(call)
}

// recoverPanic ends a request whose handling panicked as net/http would:
// the panic is logged and the connection closed, and the bus goes on.
func (l *fastLane) recoverPanic(ctx *fasthttp.RequestCtx) {
	p := recover()
	if p == nil {
		return
	}
	l.srv.log.Error("panic serving a request", "remote", ctx.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
	ctx.Response.Reset()
	ctx.SetStatusCode(http.StatusInternalServerError)
	ctx.SetConnectionClose()
}

// ingressBus tells whether a request is event ingress, and to which bus,
// by its request line as sent: a path that needs cleaning or unescaping
// is left to net/http's router.
func ingressBus(ctx *fasthttp.RequestCtx) (string, bool) {
	if !ctx.IsPost() {
		return "", false
	}
	path := ctx.Request.Header.RequestURI()
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if string(path) == "/events" {
		return router.DefaultBus, true
	}
	rest, ok := bytes.CutPrefix(path, []byte("/buses/"))
	if !ok {
		return "", false
	}
	name, ok := bytes.CutSuffix(rest, []byte("/events"))
	if !ok || !plainSegment(name) {
		return "", false
	}
	return string(name), true
}

// plainSegment reports whether s is a path segment net/http's router
// would pass on as it is: unreserved characters, not "." or "..".
func plainSegment(s []byte) bool {
	if len(s) == 0 || string(s) == "." || string(s) == ".." {
		return false
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// handOver gives the request's connection to net/http's server, with the
// request replayed in front of it. Its body is read first, as far as any
// handler there takes one (an event sent to a path net/http's router
// unescapes or cleans takes max_body_bytes): a longer one is refused here.
func (l *fastLane) handOver(ctx *fasthttp.RequestCtx) {
	var body []byte
	if stream := ctx.RequestBodyStream(); stream != nil {
		limit := max(l.srv.Config().MaxBodyBytes, maxAdminBody)
		var err error
		body, err = io.ReadAll(io.LimitReader(stream, limit+1))
		if err != nil {
			refuseWith(ctx, readFailed(err))
			return
		}
		if int64(len(body)) > limit {
			refuseWith(ctx, &apiError{Code: codeTooLarge, status: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("request body is over the %d-byte limit of this bus's requests (max_body_bytes for events, %d bytes for the rest of the API)", limit, maxAdminBody)})
			lingerAfter(ctx, l.fast.WriteTimeout)
			return
		}
	}
	raw := replay(&ctx.Request.Header, body)
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		l.handoff.give(&replayConn{Conn: c, r: io.MultiReader(bytes.NewReader(raw), c)})
	})
}

// replay writes a request as HTTP/1.1 sends it: its request line as
// received, its headers h, and its body (read whole, so framed by
// Content-Length; the server has already answered any Expect:
// 100-continue).
func replay(h *fasthttp.RequestHeader, body []byte) []byte {
	buf := make([]byte, 0, 256+len(body))
	buf = append(buf, h.Method()...)
	buf = append(buf, ' ')
	buf = append(buf, h.RequestURI()...)
	buf = append(buf, ' ')
	buf = append(buf, h.Protocol()...)
	buf = append(buf, "\r\n"...)
	framed := len(body) > 0
	for k, v := range h.All() {
		switch string(k) {
		case fasthttp.HeaderContentLength, fasthttp.HeaderTransferEncoding:
			framed = true
			continue
		case fasthttp.HeaderExpect, fasthttp.HeaderTrailer: // answered; a read body has none
			continue
		}
		buf = append(buf, k...)
		buf = append(buf, ": "...)
		buf = append(buf, v...)
		buf = append(buf, "\r\n"...)
	}
	if framed {
		buf = append(buf, "Content-Length: "...)
		buf = strconv.AppendInt(buf, int64(len(body)), 10)
		buf = append(buf, "\r\n"...)
	}
	buf = append(buf, "\r\n"...)
	return append(buf, body...)
}

// refuse answers a request the fast server could not read, as the API
// answers errors.
func (l *fastLane) refuse(ctx *fasthttp.RequestCtx, err error) {
	var ae *apiError
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		ae = &apiError{Code: codeTooLarge, status: http.StatusRequestHeaderFieldsTooLarge,
			Message: fmt.Sprintf("the request's headers are over the %d-byte limit (http.max_header_bytes)", l.srv.Config().HTTP.MaxHeaderBytes)}
	case strings.Contains(err.Error(), "conflicting content-type headers"):
		ae = errTwoContentTypes
	default:
		ae = readFailed(err)
	}
	refuseWith(ctx, ae)
}

// refuseWith answers ae on the fast server and closes the connection after.
func refuseWith(ctx *fasthttp.RequestCtx, ae *apiError) {
	ctx.SetConnectionClose()
	writeError(&fastResponse{ctx: ctx, header: http.Header{}}, ae)
}

// readFailed is the error of a request that could not be read: too slow
// (408), or malformed (400). It names no address: the client knows its
// own, and the bus's is not its business.
func readFailed(err error) *apiError {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &apiError{Code: "invalid_argument", status: http.StatusRequestTimeout,
			Message: "the request was not sent within the bus's time for it (http.read_header_timeout, http.read_timeout)"}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err
	}
	return &apiError{Code: "invalid_argument", status: http.StatusBadRequest, Message: "malformed HTTP request: " + err.Error()}
}

// What lingerAfter reads of a refused body at most, and for how long.
const (
	lingerBytes   = 64 << 20
	lingerTimeout = time.Second
)

// lingerAfter sends ctx's answer at once, then reads and discards what the
// client still sends of the body the bus refused, before it closes the
// connection. Closed with the body unread, the connection would be reset,
// and the client's system may drop the answer before the client reads it;
// net/http lingers likewise. The server's own write of the answer then
// fails on the closed connection, unseen.
//
// It runs inside the handler, before the server sets the answer's write
// deadline: the connection may still hold the previous answer's, so it
// sets its own, writeTimeout (or lingerTimeout when that is zero).
func lingerAfter(ctx *fasthttp.RequestCtx, writeTimeout time.Duration) {
	ctx.SetConnectionClose()
	c := ctx.Conn()
	_ = c.SetWriteDeadline(time.Now().Add(cmp.Or(writeTimeout, lingerTimeout)))
	w := bufio.NewWriter(c)
	if ctx.Response.Write(w) != nil || w.Flush() != nil {
		_ = c.Close() // no second answer after part of the first
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.CopyN(io.Discard, c, lingerBytes)
	_ = c.Close()
}

// ingressCall is what one ingress request on the fast server needs of
// net/http's types, kept for the next.
type ingressCall struct {
	req    http.Request
	header http.Header
	values []string // the header's values, one each, backed here
	body   bodyReader
	resp   fastResponse
	answer http.Header
}

// request returns the call's request for ctx's: a copy of base (its
// context) with ctx's headers and body. Host goes to Host, not the
// headers, as net/http does.
func (call *ingressCall) request(base *http.Request, ctx *fasthttp.RequestCtx) *http.Request {
	clear(call.header)
	values := call.values[:0]
	for k, v := range ctx.Request.Header.All() {
		if string(k) == fasthttp.HeaderHost {
			continue
		}
		key := headerKey(k)
		if vs, repeated := call.header[key]; repeated {
			call.header[key] = append(vs, string(v))
			continue
		}
		// One value, in the call's backing array: no slice of its own.
		values = append(values, reusedValue(values, v))
		call.header[key] = values[len(values)-1 : len(values) : len(values)]
	}
	call.values = values
	call.body.stream = ctx.RequestBodyStream()
	r := &call.req
	*r = *base
	r.Method = http.MethodPost
	r.Host = string(ctx.Host())
	r.Header = call.header
	r.Body = &call.body
	r.ContentLength = int64(ctx.Request.Header.ContentLength())
	if r.ContentLength < 0 {
		r.ContentLength = -1 // chunked: unknown
	}
	return r
}

// reusedValue is v as a string, to append to values: the string the
// call's previous request had in that place of the backing array, if it is
// the same, else a new one. A client sends its headers in the same order
// each time, most with the same values (specversion, source, type,
// Content-Type), and the events keep them: one string serves them all.
func reusedValue(values []string, v []byte) string {
	if i := len(values); i < cap(values) {
		if previous := values[:i+1][i]; previous == string(v) {
			return previous
		}
	}
	return string(v)
}

// headerKey is k as a string, without allocating one for the keys every
// event carries; fasthttp has spelled k as net/http would.
func headerKey(k []byte) string {
	switch string(k) {
	case "Ce-Specversion":
		return "Ce-Specversion"
	case "Ce-Id":
		return "Ce-Id"
	case "Ce-Source":
		return "Ce-Source"
	case "Ce-Type":
		return "Ce-Type"
	case "Ce-Time":
		return "Ce-Time"
	case "Ce-Subject":
		return "Ce-Subject"
	case "Content-Type":
		return "Content-Type"
	case "Content-Length":
		return "Content-Length"
	case "User-Agent":
		return "User-Agent"
	case "Accept":
		return "Accept"
	case "Accept-Encoding":
		return "Accept-Encoding"
	case "Authorization":
		return "Authorization"
	case "Traceparent":
		return "Traceparent"
	case "Tracestate":
		return "Tracestate"
	}
	return string(k)
}

// response returns the call's writer of ctx's answer.
func (call *ingressCall) response(ctx *fasthttp.RequestCtx) *fastResponse {
	clear(call.answer)
	call.resp = fastResponse{ctx: ctx, header: call.answer}
	return &call.resp
}

// bodyReader is a request's body as the fast server streams it.
type bodyReader struct{ stream io.Reader }

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.stream == nil {
		return 0, io.EOF
	}
	return b.stream.Read(p)
}

func (*bodyReader) Close() error { return nil }

// fastResponse is an http.ResponseWriter over a fasthttp answer, for a
// handler run on the fast server's goroutine; the server sends the answer
// once the handler returns.
type fastResponse struct {
	ctx         *fasthttp.RequestCtx
	header      http.Header
	wroteHeader bool
}

func (w *fastResponse) Header() http.Header { return w.header }

func (w *fastResponse) WriteHeader(status int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	for k, vs := range w.header {
		for _, v := range vs {
			w.ctx.Response.Header.Add(k, v)
		}
	}
	w.ctx.SetStatusCode(status)
}

func (w *fastResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.ctx.Write(p)
}

// retryingListener retries what net/http's server retries and fasthttp's
// does not: an accept error that passes, such as too many open files,
// after a pause that doubles from 5 ms to a second. Only a closed
// listener, or an error that does not pass, ends the fast server.
type retryingListener struct {
	net.Listener
	log *slog.Logger
}

func (l retryingListener) Accept() (net.Conn, error) {
	var pause time.Duration
	for {
		c, err := l.Listener.Accept()
		var te interface{ Temporary() bool }
		if err == nil || !errors.As(err, &te) || !te.Temporary() {
			return c, err
		}
		pause = min(max(2*pause, 5*time.Millisecond), time.Second)
		l.log.Warn("accepting a connection failed; retrying", "err", err, "in", pause)
		time.Sleep(pause)
	}
}

// handoffListener is the listener of net/http's server: its connections
// are those the fast server hands over.
type handoffListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// give hands c to the server accepting on l; after Close it closes c.
func (l *handoffListener) give(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		_ = c.Close()
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// replayConn is a handed-over connection: it reads the request the fast
// server read, then the connection.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// fastLog writes the fast server's complaints (broken connections,
// malformed requests, each already answered) at debug level: any client
// can cause them.
type fastLog struct{ log *slog.Logger }

func (l fastLog) Printf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }
