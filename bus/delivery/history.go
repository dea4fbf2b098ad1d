package delivery

import (
	"time"

	"github.com/eventbus-go/eventbus/bus/history"
	"github.com/eventbus-go/eventbus/verdict"
)

// record tells the history about an attempt at a made from start to end:
// how long it took, the target's answer, and the state its verdict leaves
// the event in until the route's policy settles it.
func (d *Dispatcher) record(a *attempt, start, end time.Time, out Outcome) {
	if d.history == nil {
		return
	}
	a.recorded = stateOf(out.Verdict)
	d.history.Attempted(d.route.Bus, a.source, a.event.ID(), d.route.Name, history.Attempt{
		At:        start,
		Verdict:   out.Verdict.String(),
		Status:    out.Status,
		Reason:    out.Reason,
		LatencyMS: float64(end.Sub(start).Microseconds()) / 1000,
	}, a.recorded)
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
