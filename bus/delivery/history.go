package delivery

import (
	"context"
	"time"

	"github.com/eventbus-go/eventbus/bus/history"
	"github.com/eventbus-go/eventbus/verdict"
)

// recording tells the history about every attempt at the target: when,
// how long it took, the target's answer, and the state its verdict leaves
// the event in until the route's policy settles it. It is the innermost
// step, so it sees each attempt, and only attempts.
func (d *Dispatcher) recording(next deliverFunc) deliverFunc {
	return func(ctx context.Context, a *attempt) Outcome {
		start := time.Now()
		out := next(ctx, a)
		a.recorded = stateOf(out.Verdict)
		d.history.Attempted(d.route.Bus, a.source, a.event.ID(), d.route.Name, history.Attempt{
			At:        start,
			Verdict:   out.Verdict.String(),
			Status:    out.Status,
			Reason:    out.Reason,
			LatencyMS: float64(time.Since(start).Microseconds()) / 1000,
		}, a.recorded)
		return out
	}
}

// recordSettled tells the history where the event ended on the route.
func (d *Dispatcher) recordSettled(a *attempt, out Outcome) {
	if d.history == nil || a.event == nil {
		return
	}
	state := stateOf(out.Verdict)
	switch {
	case a.requeued:
		state = history.Retrying
	case out.Verdict == verdict.Retry: // nacked: back on the channel
		state = history.Pending
	}
	if state == a.recorded {
		return // the last attempt left it there: most deliveries
	}
	d.history.Settled(d.route.Bus, a.source, a.event.ID(), d.route.Name, state)
}

// stateOf is the state an event is in after a verdict.
func stateOf(v verdict.Verdict) history.State {
	switch v {
	case verdict.Ack:
		return history.Delivered
	case verdict.Drop:
		return history.Dropped
	case verdict.DeadLetter:
		return history.DeadLettered
	}
	return history.Retrying
}
