package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// plainClient posts a target's events over plain HTTP/1.1 on fasthttp's
// client, which writes a request and reads its answer on the goroutine
// that sends it and keeps their buffers for the next; net/http's client
// hands each request to two goroutines of the connection's and back, and
// builds a request and a response of maps for each. A delivery is mostly
// that round trip.
//
// It keeps what net/http's client does where targets can tell: one
// kept-alive connection per request in flight; a request that finds its
// connection closed by the target (idle too long) goes again on another;
// the answer's body is read only as far as needed; a cancelled request
// ends at once.
type plainClient struct {
	client *fasthttp.Client

	mu    sync.Mutex
	conns map[net.Conn]struct{} // open, to be interrupted when a request is cancelled
	// dials bounds the connections being made; interruptAll ends it and
	// starts the next.
	dials     context.Context
	stopDials context.CancelFunc
	// watched is the Done channel of the attempts' context whose
	// cancellation interrupts the connections: the dispatcher's attempts
	// share one, so it is watched once, not once per request.
	watched atomic.Value // of <-chan struct{}
}

// answerHeaderBytes bounds an answer's status line and headers on a
// plainClient; a target whose headers are longer is sent to on net/http's
// client from then on (errAnswerHeaderTooLarge).
const answerHeaderBytes = 16 << 10

// errAnswerHeaderTooLarge is a plainClient's error for an answer whose
// headers are over answerHeaderBytes. It does not repeat them: they may
// hold cookies.
var errAnswerHeaderTooLarge = fmt.Errorf("the target's answer has over %d bytes of headers; later deliveries go on a client that reads more", answerHeaderBytes)

// plainClientFor returns a plainClient for target when client, the
// target's net/http client, would send to it over plain HTTP, with no
// proxy in the way; otherwise nil.
func plainClientFor(client *http.Client, target *url.URL) *plainClient {
	tr, ok := client.Transport.(*http.Transport)
	if !ok || target.Scheme != "http" {
		return nil
	}
	if tr.Proxy != nil {
		proxy, err := tr.Proxy(&http.Request{URL: target})
		if proxy != nil || err != nil {
			return nil
		}
	}
	c := &plainClient{conns: map[net.Conn]struct{}{}}
	c.dials, c.stopDials = context.WithCancel(context.Background())
	c.client = &fasthttp.Client{
		DialTimeout:              c.dial,
		ReadBufferSize:           answerHeaderBytes,
		StreamResponseBody:       true,
		NoDefaultUserAgentHeader: true, // the target's headers carry the bus's
		DisablePathNormalizing:   true, // the target's URL, exactly as given
		MaxIdleConnDuration:      90 * time.Second,
		// As net/http: as many connections as requests in flight, the
		// route's max_inflight bounding them, and the most recently used
		// idle one first (fasthttp's default takes the longest idle), so
		// a route below its max_inflight keeps to a few warm connections
		// instead of waking the target on every one in turn.
		MaxConnsPerHost:           1 << 16,
		ConnPoolStrategy:          fasthttp.LIFO,
		RetryIfErr:                retryClosedByServer,
		MaxIdemponentCallAttempts: 2, // one retry
	}
	return c
}

// retryClosedByServer sends a request once more, on another connection,
// when its connection was closed before any of the answer came: a
// kept-alive connection the target closed while idle (as many servers do
// after a few seconds), which the request found closed. net/http does the
// same. A target that did read the request and closed without answering
// gets it again, which at-least-once delivery allows (receivers
// deduplicate on webhook-id).
func retryClosedByServer(_ *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
	return false, errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed)
}

// dial connects to addr within timeout, what is left of the request's, on
// IPv4 or IPv6 as the name resolves (net/http's dialer, with no DNS cache
// of its own); interruptAll ends it.
func (c *plainClient) dial(addr string, timeout time.Duration) (net.Conn, error) {
	c.mu.Lock()
	dials := c.dials
	c.mu.Unlock()
	d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(dials, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: conn, c: c}
	c.mu.Lock()
	c.conns[tc] = struct{}{}
	c.mu.Unlock()
	return tc, nil
}

// trackedConn leaves its client's set when it closes.
type trackedConn struct {
	net.Conn
	c    *plainClient
	once sync.Once
}

func (tc *trackedConn) Close() error {
	tc.once.Do(func() {
		tc.c.mu.Lock()
		delete(tc.c.conns, tc)
		tc.c.mu.Unlock()
	})
	return tc.Conn.Close()
}

// interruptAll ends what every connection is doing: a request in flight
// fails at once, as timed out, which is not retried. Its connection is
// then closed; an idle one takes the next request's deadline.
func (c *plainClient) interruptAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.conns {
		_ = conn.SetDeadline(time.Unix(1, 0))
	}
	c.stopDials()
	c.dials, c.stopDials = context.WithCancel(context.Background())
}

func (c *plainClient) closeIdle() { c.client.CloseIdleConnections() }

// do sends req and reads resp's status and header within timeout; resp's
// body is read from its BodyStream. A cancelled ctx (not one past its
// deadline) interrupts the client's connections: it is cancelled when the
// bus gives up on the attempts in progress, all at once.
func (c *plainClient) do(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if done := ctx.Done(); done != nil && c.watched.Load() != done {
		if c.watched.CompareAndSwap(nil, done) {
			c.watch(ctx) // the dispatcher's: for the client's life
		} else {
			defer context.AfterFunc(ctx, func() { c.interrupted(ctx) })()
		}
	}
	resp.Header.SetNoDefaultContentType(true) // absent stays absent
	err := c.client.DoTimeout(req, resp, timeout)
	if err == nil {
		return nil
	}
	var small *fasthttp.ErrSmallBuffer // declared here: errors.As moves it to the heap
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, fasthttp.ErrTimeout):
		return context.DeadlineExceeded // as net/http says it
	case errors.As(err, &small):
		return errAnswerHeaderTooLarge
	}
	return err
}

// watch interrupts the connections when ctx is cancelled.
func (c *plainClient) watch(ctx context.Context) {
	context.AfterFunc(ctx, func() { c.interrupted(ctx) })
}

// interrupted interrupts the connections if ctx was cancelled, not past
// its deadline.
func (c *plainClient) interrupted(ctx context.Context) {
	if errors.Is(ctx.Err(), context.Canceled) {
		c.interruptAll()
	}
}

// answerBody is resp's body to read: its stream, or what fasthttp read
// whole (a body short enough to come with the headers).
func answerBody(resp *fasthttp.Response) io.Reader {
	if body := resp.BodyStream(); body != nil {
		return body
	}
	return bytes.NewReader(resp.Body())
}
