package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/eventbus-go/eventbus/adapters/memory"
	"github.com/eventbus-go/eventbus/router"
)

// The memory scenarios: an event's whole trip with nothing durable on the
// way, the bus's least work. A producer POSTs it in binary mode; the
// contender validates it and queues it in memory before it answers 202; a
// worker POSTs it to an HTTP target, and the operation ends when the target
// has it.
//
//	eventbus   the bus, one route on mem:// with its default max_inflight
//	           (16: as many deliveries at once as the glue has workers)
//	glue       what a user would write instead: a net/http handler that
//	           checks the four required attributes (specversion, id,
//	           source, type), a buffered channel, and 16 workers POSTing
//	           each event in binary mode to the target, again after a
//	           pause while it answers other than 2xx
//	fastglue   the same glue on fasthttp, server and client, as the bus
//	           serves and delivers: a ceiling, the least a Go service
//	           spends on this path, with nothing of what a bus does
//	           besides (no dedup, matching, history, signing, metrics)
//
// "memory" measures throughput with 64 producers, against the glue and
// fastglue; "memory-latency" is an open loop at 4,000 events/s, the bus
// against the glue: its latencies count from when each event was due, and
// it shows the time to the 202 (ingress) beside end to end.
func init() {
	servers["eventbus-memory"] = serveMemoryBus
	servers["glue-memory"] = serveGlueWith(openMemoryGlue)
	servers["fastglue-memory"] = serveFastGlue
	contenders := []Contender{
		{Name: "eventbus", Start: startPipelineChild("eventbus-memory")},
		{Name: "glue", Start: startPipelineChild("glue-memory")},
	}
	register(Scenario{
		Name:    "memory",
		About:   "POST a CloudEvent → queued in memory → POSTed to an HTTP target; one operation ends when the target has it",
		Workers: 64,
		Contenders: append(contenders,
			Contender{Name: "fastglue", Start: startPipelineChild("fastglue-memory")}),
	})
	register(Scenario{
		Name:       "memory-latency",
		About:      "as memory, open loop at 4,000 events/s: latency from when each event was due",
		Workers:    256,
		Rate:       4000,
		Contenders: contenders,
	})
}

func serveMemoryBus(ctx context.Context, ln net.Listener) error {
	return serveRouteBusInflight(ctx, ln, memory.Scheme+"://", memory.Open, router.DefaultMaxInflight)
}

// Sizes of the memory glue: its channel's buffer and its delivering
// workers.
const (
	memoryGlueBuffer  = 10000
	memoryGlueWorkers = router.DefaultMaxInflight
)

// requiredAttributes are the CloudEvents attributes every event has, as
// binary-mode headers.
var requiredAttributes = []string{"Ce-Specversion", "Ce-Id", "Ce-Source", "Ce-Type"}

// errGlueFull is the memory glue's answer while its channel is full: the
// event is refused, never dropped.
var errGlueFull = errors.New("the queue is full: retry later")

// openMemoryGlue is the glue on a buffered Go channel.
func openMemoryGlue(string) (*glue, error) {
	type event struct {
		headers map[string]string
		body    []byte
	}
	queue := make(chan event, memoryGlueBuffer)
	g := &glue{close: func() error { return nil }}
	g.publish = func(_ context.Context, headers map[string]string, body []byte) error {
		for _, a := range requiredAttributes {
			if headers[a] == "" {
				return errors.New("missing required attribute header " + a)
			}
		}
		select {
		case queue <- event{headers, body}:
			return nil
		default:
			return errGlueFull
		}
	}
	g.receive = func(ctx context.Context, deliver func(map[string]string, []byte) error) {
		deliverQueued(ctx, queue, func(e event) error { return deliver(e.headers, e.body) })
	}
	return g, nil
}

// deliverQueued is a memory glue's delivering side: memoryGlueWorkers
// workers, each taking an event from queue and delivering it until taken,
// until ctx ends; it returns once they have stopped.
func deliverQueued[E any](ctx context.Context, queue <-chan E, deliver func(E) error) {
	var wg sync.WaitGroup
	for range memoryGlueWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case e := <-queue:
					deliverUntilTaken(ctx, func() error { return deliver(e) })
				}
			}
		})
	}
	wg.Wait()
}

// fastGlueEvent is an event the fasthttp glue queued: copies of its
// binary-mode headers and body, as fasthttp reuses its own buffers.
type fastGlueEvent struct {
	headers [][2]string
	body    []byte
}

// serveFastGlue runs the memory glue on fasthttp: a handler that checks the
// required attributes and queues the event, and workers that POST each to
// the target, again after a pause while it answers other than 2xx.
func serveFastGlue(ctx context.Context, ln net.Listener) error {
	queue := make(chan fastGlueEvent, memoryGlueBuffer)
	target := os.Getenv(envTarget)
	client := &fasthttp.Client{MaxConnsPerHost: memoryGlueWorkers}
	deliver := func(e fastGlueEvent) error {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer func() {
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
		}()
		req.Header.SetMethod(http.MethodPost)
		req.Header.SetNoDefaultContentType(true) // an event without one has none
		req.SetRequestURI(target)
		for _, h := range e.headers {
			req.Header.Set(h[0], h[1])
		}
		req.SetBodyRaw(e.body)
		if err := client.Do(req, resp); err != nil {
			return err
		}
		if resp.StatusCode()/100 != 2 {
			return fmt.Errorf("target answered %d", resp.StatusCode())
		}
		return nil
	}
	wctx, stopDelivering := context.WithCancel(ctx)
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		deliverQueued(wctx, queue, deliver)
	}()
	handle := func(c *fasthttp.RequestCtx) {
		if !c.IsPost() {
			return // the harness's health check
		}
		for _, a := range requiredAttributes {
			if len(c.Request.Header.Peek(a)) == 0 {
				c.Error("missing required attribute header "+a, http.StatusServiceUnavailable) // as the glue answers
				return
			}
		}
		e := fastGlueEvent{body: bytes.Clone(c.PostBody())}
		for k, v := range c.Request.Header.All() {
			if key := string(k); strings.HasPrefix(key, "Ce-") || key == "Content-Type" {
				e.headers = append(e.headers, [2]string{key, string(v)})
			}
		}
		select {
		case queue <- e:
			c.SetStatusCode(http.StatusAccepted)
		default:
			c.Error(errGlueFull.Error(), http.StatusServiceUnavailable)
		}
	}
	srv := &fasthttp.Server{Handler: handle, ReadTimeout: 10 * time.Second} // the glue's ReadHeaderTimeout
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown()
	}()
	err := srv.Serve(ln)
	stopDelivering()
	<-delivered
	return err
}
