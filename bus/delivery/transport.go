package delivery

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// targetTransport is the http.RoundTripper of HTTP targets. A request
// over plain HTTP/1.1 (an http:// URL, no proxy in the way) goes on
// fasthttp's client, which writes it and reads its answer on the
// goroutine that sends it, where net/http's Transport hands each request
// to two goroutines of the connection's and back; a delivery is mostly
// that round trip. The others (https, where HTTP/2 may be had, or through
// a proxy) go on net/http's Transport, the fallback.
//
// It keeps net/http's contract where the targets can tell: the request's
// context bounds it (its deadline as the connection's; its cancellation
// interrupts the connections in use), the answer's body is streamed to
// the caller, a body left unread closes its connection instead of
// returning it to the pool, and a request that finds its kept-alive
// connection closed goes again on another.
type targetTransport struct {
	client   *fasthttp.Client
	fallback *http.Transport

	mu    sync.Mutex
	conns map[net.Conn]struct{} // open, to be interrupted when a request is cancelled
}

func newTargetTransport(fallback *http.Transport) *targetTransport {
	t := &targetTransport{fallback: fallback, conns: map[net.Conn]struct{}{}}
	t.client = &fasthttp.Client{
		Dial:                     t.dial,
		StreamResponseBody:       true,
		NoDefaultUserAgentHeader: true, // the target's headers carry the bus's
		DisablePathNormalizing:   true, // the target's URL, exactly as given
		MaxIdleConnDuration:      90 * time.Second,
		// As net/http: as many connections as requests in flight, the
		// route's max_inflight bounding them.
		MaxConnsPerHost:           1 << 16,
		RetryIfErr:                retryClosedByServer,
		MaxIdemponentCallAttempts: 3,
	}
	return t
}

// retryClosedByServer sends a request again on another connection when
// its connection was closed before any of the answer came: a kept-alive
// connection the target closed while idle (as many servers do after a few
// seconds), which the request found closed. net/http does the same. A
// target that did read the request and closed without answering gets it
// again, which at-least-once delivery allows (receivers deduplicate on
// webhook-id).
func retryClosedByServer(_ *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
	return false, errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

func (t *targetTransport) dial(addr string) (net.Conn, error) {
	c, err := fasthttp.DialTimeout(addr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, t: t}
	t.mu.Lock()
	t.conns[tc] = struct{}{}
	t.mu.Unlock()
	return tc, nil
}

// trackedConn leaves its transport's set when it closes.
type trackedConn struct {
	net.Conn
	t    *targetTransport
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
	})
	return c.Conn.Close()
}

// interruptAll ends what every connection is doing, in use or idle: a
// request in flight fails at once, as timed out, which is not retried.
// The connections are closed by the requests that fail; idle ones take
// the next request's deadline.
func (t *targetTransport) interruptAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		_ = c.SetDeadline(time.Unix(1, 0))
	}
}

// CloseIdleConnections closes the connections no request is using.
func (t *targetTransport) CloseIdleConnections() {
	t.client.CloseIdleConnections()
	t.fallback.CloseIdleConnections()
}

func (t *targetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.fallback.RoundTrip(req)
	}
	if t.fallback.Proxy != nil {
		if proxy, err := t.fallback.Proxy(req); proxy != nil || err != nil {
			return t.fallback.RoundTrip(req)
		}
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeBody(req)
		return nil, err
	}
	freq := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(freq)
	freq.Header.SetMethod(req.Method)
	freq.SetRequestURI(req.URL.String())
	if req.Host != "" {
		freq.Header.SetHost(req.Host)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			freq.Header.Add(k, v)
		}
	}
	// The body is copied (into a pooled buffer), not streamed: fasthttp
	// sends a streamed body only once.
	if req.Body != nil && req.Body != http.NoBody {
		if _, err := io.Copy(freq.BodyWriter(), req.Body); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	closeBody(req)
	// A cancelled request (not one past its deadline, which the
	// connection's own deadline ends) interrupts the transport's
	// connections: it is cancelled when the bus gives up on its attempts,
	// all at once.
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.Canceled) {
			t.interruptAll()
		}
	})
	defer stop()
	resp := fasthttp.AcquireResponse()
	resp.Header.SetNoDefaultContentType(true) // absent stays absent
	var err error
	if deadline, ok := ctx.Deadline(); ok {
		err = t.client.DoDeadline(freq, resp, deadline)
	} else {
		err = t.client.Do(freq, resp)
	}
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, fasthttp.ErrTimeout) {
			return nil, context.DeadlineExceeded // as net/http says it
		}
		return nil, err
	}
	return netResponse(req, resp), nil
}

// netResponse is resp as net/http's, its body read from resp until
// closed, which releases resp.
func netResponse(req *http.Request, resp *fasthttp.Response) *http.Response {
	code := resp.StatusCode()
	out := &http.Response{
		Status:        strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, resp.Header.Len()),
		ContentLength: max(int64(resp.Header.ContentLength()), -1), // negative: unknown
		Request:       req,
	}
	for k, v := range resp.Header.All() {
		key := string(k)
		out.Header[key] = append(out.Header[key], string(v))
	}
	body := resp.BodyStream()
	if body == nil {
		body = bytes.NewReader(resp.Body())
	}
	out.Body = &fastBody{Reader: body, resp: resp}
	return out
}

// fastBody is a response body read from fasthttp's response, which
// closing it gives back.
type fastBody struct {
	io.Reader
	resp *fasthttp.Response
	once sync.Once
}

func (b *fastBody) Close() error {
	var err error
	b.once.Do(func() {
		err = b.resp.CloseBodyStream()
		fasthttp.ReleaseResponse(b.resp)
	})
	return err
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
