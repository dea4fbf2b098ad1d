package main

import (
	"context"
	"errors"
	"net"
	"sync"

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
//
// "memory" measures throughput with 64 producers; "memory-latency" is an
// open loop at 4,000 events/s: its latencies count from when each event was
// due, and it shows the time to the 202 (ingress) beside end to end.
func init() {
	servers["eventbus-memory"] = serveMemoryBus
	servers["glue-memory"] = serveGlueWith(openMemoryGlue)
	contenders := []Contender{
		{Name: "eventbus", Start: startPipelineChild("eventbus-memory")},
		{Name: "glue", Start: startPipelineChild("glue-memory")},
	}
	register(Scenario{
		Name:       "memory",
		About:      "POST a CloudEvent → queued in memory → POSTed to an HTTP target; one operation ends when the target has it",
		Workers:    64,
		Contenders: contenders,
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
		var wg sync.WaitGroup
		for range memoryGlueWorkers {
			wg.Go(func() {
				for {
					select {
					case <-ctx.Done():
						return
					case e := <-queue:
						deliverUntilTaken(ctx, func() error { return deliver(e.headers, e.body) })
					}
				}
			})
		}
		wg.Wait()
	}
	return g, nil
}
