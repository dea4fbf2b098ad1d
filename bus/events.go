package bus

import (
	"context"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus/history"
	"github.com/eventbus-go/eventbus/errcode"
)

// accepted tells the history and the bus's live tails about an event
// ingress took in at the time given and stored, with its result: the
// routes that stored it (empty when it matched none).
func (b *Bus) accepted(bus string, e *event.Event, res Result, at time.Time) {
	b.history.Accepted(bus, res.Source, res.ID, res.Routes, at)
	b.tails.publish(bus, e, res.Routes, at)
}

// Event returns what became of the event (source, id) on bus: when it was
// accepted, the routes it matched, and per route its state and attempts.
// The caller in ctx needs the read right on bus. It is NotFound when the
// history does not hold the event (never accepted here, or past the
// history's bounds), FailedPrecondition with history.off.
func (b *Bus) Event(ctx context.Context, bus, source, id string) (history.Event, error) {
	if err := b.Allow(ctx, bus, auth.Read); err != nil {
		return history.Event{}, err
	}
	if b.history == nil {
		return history.Event{}, errcode.Errorf(errcode.FailedPrecondition, "this bus keeps no event history (history.off is set in its config)")
	}
	e, ok := b.history.Lookup(bus, source, id)
	if !ok {
		n, age := b.history.Bounds()
		return history.Event{}, errcode.Errorf(errcode.NotFound,
			"event (source %q, id %q) on bus %q is not in this bus's history: it was not accepted by this process, or it aged out (the history keeps the last %d events for at most %v)",
			source, id, bus, n, age.Round(time.Second))
	}
	return e, nil
}
