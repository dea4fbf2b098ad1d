package plugins

import (
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/plugins/proto"
	"github.com/eventbus-go/eventbus/verdict"
)

// Result is a plugin's answer to one delivery.
type Result struct {
	Verdict verdict.Verdict
	// RetryAfter, with verdict.Retry, is the least wait before the next
	// attempt; zero leaves it to the route's backoff.
	RetryAfter time.Duration
	// Reason says why, for logs and dead letters.
	Reason string
	// Replies are events the handler emits in reply; the bus sends them
	// into ingress. The host has set their causationid and correlationid.
	Replies []event.Event
}

// Extensions the host sets on every reply, so a chain of handlers can be
// followed: causationid is the id of the event that caused the reply;
// correlationid is the first event's id, carried along the chain.
const (
	ExtCausationID   = "causationid"
	ExtCorrelationID = "correlationid"
)

// resultFrom converts a verdict off the wire. A reply that is not a valid
// CloudEvent turns the result into a dead letter: the handler has a bug
// that retrying will not fix.
func resultFrom(v *proto.Verdict, cause *event.Event) Result {
	decided, ok := v.GetKind().Verdict()
	if !ok {
		return Result{Verdict: verdict.DeadLetter, Reason: fmt.Sprintf("the plugin answered an unknown verdict %d; upgrade the bus or fix the plugin", v.GetKind())}
	}
	r := Result{Verdict: decided, Reason: v.GetReason()}
	if decided == verdict.Retry {
		r.RetryAfter = time.Duration(v.GetRetryAfterMs()) * time.Millisecond
	}
	if len(v.GetReplies()) == 0 {
		return r
	}
	if r.Verdict != verdict.Ack {
		return Result{Verdict: verdict.DeadLetter, Reason: fmt.Sprintf("the plugin answered %s with %d replies; only an ack may carry replies", r.Verdict, len(v.GetReplies()))}
	}
	correlation := cause.ID()
	if c, ok := cause.Extensions()[ExtCorrelationID]; ok {
		correlation = fmt.Sprint(c)
	}
	r.Replies = make([]event.Event, len(v.GetReplies()))
	for i, raw := range v.GetReplies() {
		e := &r.Replies[i]
		if err := e.UnmarshalJSON(raw); err != nil {
			return Result{Verdict: verdict.DeadLetter, Reason: fmt.Sprintf("reply %d of the plugin is not a CloudEvent: %v", i, err)}
		}
		e.SetExtension(ExtCausationID, cause.ID())
		if _, ok := e.Extensions()[ExtCorrelationID]; !ok {
			e.SetExtension(ExtCorrelationID, correlation)
		}
		if err := e.Validate(); err != nil {
			return Result{Verdict: verdict.DeadLetter, Reason: fmt.Sprintf("reply %d of the plugin is not a valid CloudEvent: %v", i, err)}
		}
	}
	return r
}
