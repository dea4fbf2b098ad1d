package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jsoniter "github.com/json-iterator/go"
	"github.com/valyala/fasthttp"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// The batch scenario: what batches buy, on the in-memory backend. Every
// operation carries batchSize events; events/s counts events, and latency
// is that of a whole operation.
//
//   - batch-ingress POSTs batchSize events in one batch-mode request
//     (application/cloudevents-batch+json) to a paused route and waits for
//     the 202; single-ingress POSTs the same events one request each, in
//     binary mode. batch-ingress/single-ingress is what batch ingress buys.
//   - batch-e2e POSTs batchSize events in one batch-mode request and waits
//     until a webhook in the load generator received all of them, delivered
//     by a route with delivery.batch; single-e2e is the same with one POST
//     per event. batch-e2e/single-e2e is what batch delivery buys end to
//     end.
func init() {
	servers["eventbus-batch-e2e"] = serveE2E(true)
	servers["eventbus-single-e2e"] = serveE2E(false)
	register(Scenario{
		Name:    "batch",
		About:   fmt.Sprintf("%d CloudEvents per operation into a bus, in one batch request or one request each; e2e waits until a webhook got them all, sent in batches or one per request", batchSize),
		Workers: 16,
		Contenders: []Contender{
			{Name: "batch-ingress", Start: startBatchIngress},
			{Name: "single-ingress", Start: startSingleIngress},
			{Name: "batch-e2e", Start: startE2E(true)},
			{Name: "single-e2e", Start: startE2E(false)},
		},
		Compare: [][2]int{{2, 3}},
	})
}

// batchSize is the events of one operation, and of one ingress request in
// batch mode.
const batchSize = 100

// envSinkURL passes the load generator's webhook to the bus child.
const envSinkURL = "EVENTBUS_BENCH_SINK_URL"

func startBatchIngress(ctx context.Context, opts StartOptions) (*Instance, error) {
	h, err := startHTTPChild(ctx, "eventbus-ingress", opts, "", probeIngressRoute)
	if err != nil {
		return nil, err
	}
	var seq atomic.Uint64
	op := func(ctx context.Context) error {
		return postBatch(h.client, h.url, strconv.FormatUint(seq.Add(1), 10))
	}
	return &Instance{PID: h.pid, Op: op, EventsPerOp: batchSize, Stop: h.stop}, nil
}

func startSingleIngress(ctx context.Context, opts StartOptions) (*Instance, error) {
	inst, err := startHTTP(ctx, "eventbus-ingress", opts, "", probeIngressRoute)
	if err != nil {
		return nil, err
	}
	post := inst.Op
	inst.Op = func(ctx context.Context) error {
		for range batchSize {
			if err := post(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	inst.EventsPerOp = batchSize
	return inst, nil
}

// batchBody is a batch-mode body of batchSize bench events with ids
// <op>-0 … <op>-<batchSize-1>. It is appended from fixed parts rather
// than formatted: the load generator shares the machine with the bus, and
// every microsecond it spends is one the bus does not get.
func batchBody(op string) []byte {
	b := make([]byte, 0, batchSize*(len(batchEventHead)+len(op)+4+len(batchEventTail)))
	b = append(b, '[')
	for i := range batchSize {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, batchEventHead...)
		b = append(b, op...)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, batchEventTail...)
	}
	return append(b, ']')
}

// The parts of one event of batchBody, around its id.
const batchEventHead = `{"specversion":"1.0","id":"`

var batchEventTail = `","source":"/bench/producer","type":"` + benchEventType + `","datacontenttype":"application/json","data":` + string(benchData) + `}`

// postBatch POSTs the events of operation op in one batch-mode request and
// expects every one accepted.
func postBatch(client *loadClient, url, op string) error {
	return client.postAccepted(url, func(req *fasthttp.Request) {
		req.Header.SetContentType("application/cloudevents-batch+json")
		req.SetBodyRaw(batchBody(op))
	})
}

// e2eConfig delivers every bench event to the webhook at sink, in batches
// or one per request. Both keep 64 requests' worth of events in flight at
// most: single-e2e 64 events, batch-e2e two batches.
func e2eConfig(sink string, batched bool) bus.Config {
	r := router.Route{
		Name:     ingressRoute,
		Match:    json.RawMessage(`{"type":["` + benchEventType + `"]}`),
		Backend:  "mem://?max_depth=20000000&max_bytes=8589934592",
		Target:   router.Target{HTTP: &router.HTTPTarget{URL: sink}},
		Delivery: router.Delivery{MaxInflight: 64},
	}
	if batched {
		r.Delivery = router.Delivery{Batch: &router.Batch{MaxEvents: batchSize, MaxWait: spec.Duration(5 * time.Millisecond)}}
	}
	return bus.Config{Routes: []router.Route{r}}
}

func serveE2E(batched bool) server {
	return func(ctx context.Context, ln net.Listener) error {
		sink := os.Getenv(envSinkURL)
		if sink == "" {
			return errors.New(envSinkURL + " is not set: the bench harness starts this server")
		}
		return serveBus(e2eConfig(sink, batched))(ctx, ln)
	}
}

// sink is the webhook of the e2e contenders, in the load generator: it
// counts the events of each operation it received, single or in batches,
// and closes the operation's channel once all of them came.
type sink struct {
	url string
	mu  sync.Mutex
	ops map[string]*pendingOp
}

type pendingOp struct {
	left int
	done chan struct{}
}

// expect registers operation op before its events are sent.
func (s *sink) expect(op string) <-chan struct{} {
	p := &pendingOp{left: batchSize, done: make(chan struct{})}
	s.mu.Lock()
	s.ops[op] = p
	s.mu.Unlock()
	return p.done
}

func (s *sink) forget(op string) {
	s.mu.Lock()
	delete(s.ops, op)
	s.mu.Unlock()
}

func (s *sink) received(id string) {
	op, _, _ := strings.Cut(id, "-")
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.ops[op]
	if p == nil { // the probe, or a redelivery after its operation ended
		return
	}
	if p.left--; p.left == 0 {
		close(p.done)
		delete(s.ops, op)
	}
}

// serve takes one delivery, single or a batch.
func (s *sink) serve(c *fasthttp.RequestCtx) {
	if string(c.Request.Header.ContentType()) != "application/cloudevents-batch+json" {
		s.received(string(c.Request.Header.Peek("Ce-Id")))
		return
	}
	// Read only the ids, as a receiver that wants little of a batch
	// would: the sink shares the machine with the bus.
	iter := jsoniter.ConfigFastest.BorrowIterator(c.Request.Body())
	defer jsoniter.ConfigFastest.ReturnIterator(iter)
	iter.ReadArrayCB(func(iter *jsoniter.Iterator) bool {
		return iter.ReadObjectCB(func(iter *jsoniter.Iterator, field string) bool {
			if field == "id" {
				s.received(iter.ReadString())
			} else {
				iter.Skip()
			}
			return true
		})
	})
	if iter.Error != nil {
		c.Error(iter.Error.Error(), http.StatusBadRequest)
	}
}

// startSink serves a sink on a loopback port until stop.
func startSink() (*sink, func() error, error) {
	s := &sink{ops: map[string]*pendingOp{}}
	url, stop, err := serveWebhook(s.serve)
	s.url = url
	return s, stop, err
}

// e2eTimeout bounds one e2e operation: past it the operation is an error.
const e2eTimeout = 30 * time.Second

func startE2E(batched bool) func(context.Context, StartOptions) (*Instance, error) {
	name := "eventbus-single-e2e"
	if batched {
		name = "eventbus-batch-e2e"
	}
	return func(ctx context.Context, opts StartOptions) (*Instance, error) {
		s, stopSink, err := startSink()
		if err != nil {
			return nil, err
		}
		os.Setenv(envSinkURL, s.url) // the child reads it; the harness starts one at a time
		h, err := startHTTPChild(ctx, name, opts, "", probeIngressRoute)
		if err != nil {
			return nil, errors.Join(err, stopSink())
		}
		var seq atomic.Uint64
		op := func(ctx context.Context) error {
			op := strconv.FormatUint(seq.Add(1), 10)
			done := s.expect(op)
			if err := postBatch(h.client, h.url, op); err != nil {
				s.forget(op)
				return err
			}
			timer := time.NewTimer(e2eTimeout)
			defer timer.Stop()
			select {
			case <-done:
				return nil
			case <-timer.C:
				s.forget(op)
				return fmt.Errorf("operation %s: not all of its %d events reached the webhook within %s", op, batchSize, e2eTimeout)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		stop := func() error { return errors.Join(h.stop(), stopSink()) }
		return &Instance{PID: h.pid, Op: op, EventsPerOp: batchSize, Stop: stop}, nil
	}
}
