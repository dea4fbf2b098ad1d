package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// The load generator's HTTP: its client, which POSTs the events, and the
// webhooks that receive the contenders' deliveries. Both are fasthttp's,
// which spends about half of what net/http spends on a request: the load
// generator shares the machine with the contender it measures, and every
// microsecond it spends on an event is one the contender does not get.
// fasthttp takes no context: a request runs until it is answered or its
// timeouts pass, even when its operation's context ends first.

// loadTimeout bounds one request of the load generator, and one request to
// its webhooks.
const loadTimeout = 10 * time.Second

// loadClient POSTs the load generator's requests, keeping a connection per
// worker alive and going straight to the loopback server.
type loadClient struct{ client *fasthttp.Client }

func newLoadClient() *loadClient {
	return &loadClient{client: &fasthttp.Client{
		MaxConnsPerHost:               1024, // more than any scenario's workers
		ReadTimeout:                   loadTimeout,
		WriteTimeout:                  loadTimeout,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true, // the headers are set as sent
		Dial: func(addr string) (net.Conn, error) {
			return net.DialTimeout("tcp", addr, 5*time.Second)
		},
	}}
}

// closeIdleConnections closes the client's kept-alive connections.
func (c *loadClient) closeIdleConnections() { c.client.CloseIdleConnections() }

// post POSTs to url a request that fill completes (headers and body) and
// hands the answer's status and body to check, which must not keep the
// body.
func (c *loadClient) post(url string, fill func(*fasthttp.Request), check func(status int, body []byte) error) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer func() {
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}()
	req.SetRequestURI(url)
	req.Header.SetMethod(http.MethodPost)
	fill(req)
	if err := c.client.Do(req, resp); err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	return check(resp.StatusCode(), resp.Body())
}

// postAccepted POSTs a request that fill completes and expects a 202 that
// accepted every event in it: no result with an error.
func (c *loadClient) postAccepted(url string, fill func(*fasthttp.Request)) error {
	return c.post(url, fill, func(status int, body []byte) error {
		if status != http.StatusAccepted || bytes.Contains(body, []byte(`"error"`)) {
			return fmt.Errorf("status %d: %.300s", status, strings.TrimSpace(string(body)))
		}
		return nil
	})
}

// postEvent POSTs one bench event in binary mode, with the Authorization
// header authorization unless it is empty, and expects 202.
func postEvent(client *loadClient, url, id, authorization string) error {
	return client.postAccepted(url, func(req *fasthttp.Request) { fillEvent(req, id, authorization) })
}

// fillEvent makes req the bench event with the given id in binary mode,
// with the Authorization header authorization unless it is empty.
func fillEvent(req *fasthttp.Request, id, authorization string) {
	eachEventHeader(id, req.Header.Set)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	req.SetBodyRaw(benchData)
}

// eachEventHeader hands set the binary-mode headers of the bench event with
// the given id.
func eachEventHeader(id string, set func(key, value string)) {
	set("Ce-Specversion", "1.0")
	set("Ce-Id", id)
	set("Ce-Source", "/bench/producer")
	set("Ce-Type", benchEventType)
	set("Content-Type", "application/json")
}

// serveWebhook serves handle on a loopback port until stop, and returns the
// URL of its /hook.
func serveWebhook(handle fasthttp.RequestHandler) (url string, stop func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &fasthttp.Server{Handler: handle, ReadTimeout: loadTimeout, NoDefaultServerHeader: true}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	stop = func() error {
		err := srv.Shutdown()
		_ = ln.Close() // Shutdown closes only a listener Serve has taken up
		<-served
		return err
	}
	return "http://" + ln.Addr().String() + "/hook", stop, nil
}

// arrivals is the HTTP target of one instance: it tells each waiting
// operation when its event arrived.
type arrivals struct {
	url  string
	stop func() error

	mu      sync.Mutex
	waiting map[string]chan struct{}
}

func startArrivals() (*arrivals, error) {
	a := &arrivals{waiting: map[string]chan struct{}{}}
	var err error
	a.url, a.stop, err = serveWebhook(func(c *fasthttp.RequestCtx) {
		a.arrived(string(c.Request.Header.Peek("Ce-Id")))
	})
	return a, err
}

// expect registers id before its event is sent.
func (a *arrivals) expect(id string) <-chan struct{} {
	c := make(chan struct{})
	a.mu.Lock()
	a.waiting[id] = c
	a.mu.Unlock()
	return c
}

// arrived releases id's operation; a redelivery finds nobody waiting.
func (a *arrivals) arrived(id string) {
	a.mu.Lock()
	c, ok := a.waiting[id]
	delete(a.waiting, id)
	a.mu.Unlock()
	if ok {
		close(c)
	}
}

func (a *arrivals) forget(id string) {
	a.mu.Lock()
	delete(a.waiting, id)
	a.mu.Unlock()
}

// await waits for id's event to reach the target.
func (a *arrivals) await(ctx context.Context, id string, arrived <-chan struct{}) error {
	select {
	case <-arrived:
		return nil
	case <-ctx.Done():
		a.forget(id)
		return fmt.Errorf("event %s accepted but not delivered: %w", id, ctx.Err())
	}
}
