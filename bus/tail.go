package bus

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/errcode"
)

const (
	// MaxTails bounds the live tails one process serves at once.
	MaxTails = 16
	// TailBuffer is how many events a tail holds for a slow reader; past
	// that it drops new events and counts them.
	TailBuffer = 256
)

// Tailed is one event a live tail saw ingress store.
type Tailed struct {
	Event      *event.Event // read-only: a copy of ingress's, shared with the bus's other tails
	Routes     []string     // the routes that stored it; empty when none matched; shared, not to be modified
	AcceptedAt time.Time
}

// Tail is a live view of the events ingress stores on one bus, from the
// moment it starts. It never slows ingress: when its reader falls
// TailBuffer events behind, it drops events and counts them.
type Tail struct {
	events  chan Tailed
	dropped atomic.Int64
}

// Events delivers the tailed events; it is closed when the tail's context
// ends.
func (t *Tail) Events() <-chan Tailed { return t.events }

// Dropped counts the events dropped so far because the reader was behind.
func (t *Tail) Dropped() int64 { return t.dropped.Load() }

// Tail starts a live tail of bus, until ctx ends. The caller in ctx needs
// the read right on bus. It is NotFound when the bus does not exist, and
// ResourceExhausted when MaxTails tails are running.
func (b *Bus) Tail(ctx context.Context, bus string) (*Tail, error) {
	if err := b.Allow(ctx, bus, auth.Read); err != nil {
		return nil, err
	}
	if b.state.Load().buses[bus] == nil {
		return nil, errNoBus(bus)
	}
	return b.tails.add(ctx, bus)
}

// tails are the live tails of every bus. Ingress checks an atomic count
// first, so it pays nothing while nobody tails.
type tails struct {
	n     atomic.Int32
	mu    sync.RWMutex
	byBus map[string]map[*Tail]struct{}
}

func newTails() *tails { return &tails{byBus: map[string]map[*Tail]struct{}{}} }

func (ts *tails) add(ctx context.Context, bus string) (*Tail, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.n.Load() >= MaxTails {
		return nil, errcode.Errorf(errcode.ResourceExhausted, "%d live tails are running, the most this bus serves; stop one or retry later", MaxTails)
	}
	t := &Tail{events: make(chan Tailed, TailBuffer)}
	if ts.byBus[bus] == nil {
		ts.byBus[bus] = map[*Tail]struct{}{}
	}
	ts.byBus[bus][t] = struct{}{}
	ts.n.Add(1)
	context.AfterFunc(ctx, func() { ts.remove(bus, t) })
	return t, nil
}

func (ts *tails) remove(bus string, t *Tail) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.byBus[bus], t)
	if len(ts.byBus[bus]) == 0 {
		delete(ts.byBus, bus)
	}
	ts.n.Add(-1)
	close(t.events) // publish sends under the read lock, so none is sending
}

// publish hands e, accepted at the time given, to every tail of bus that
// has room.
func (ts *tails) publish(bus string, e *event.Event, routes []string, accepted time.Time) {
	if ts.n.Load() == 0 {
		return
	}
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	if len(ts.byBus[bus]) == 0 {
		return
	}
	// A copy of the data, which may be part of the request's body: a
	// tail holds its events after the request, and must not hold it all.
	c := e.Clone()
	tailed := Tailed{Event: &c, Routes: routes, AcceptedAt: accepted}
	for t := range ts.byBus[bus] {
		select {
		case t.events <- tailed:
		default:
			t.dropped.Add(1)
		}
	}
}
