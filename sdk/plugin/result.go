package plugin

import (
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/verdict"
)

// Result is a handler's answer for one event.
type Result struct {
	Verdict verdict.Verdict
	// RetryAfter, with verdict.Retry, is the least wait before the next
	// attempt; zero leaves it to the route's backoff.
	RetryAfter time.Duration
	// Reason says why, for the bus's log and dead letters.
	Reason string
	// Replies, with verdict.Ack, are events the bus sends into its ingress,
	// to be routed like any other. An empty id is filled in; the bus sets
	// causationid (the handled event's id) and correlationid.
	Replies []event.Event
}

// Ack is the result of a handled event, with the events to emit in reply.
func Ack(replies ...event.Event) Result { return Result{Replies: replies} }

// Retry asks for the event again, after at least after (zero: the route's
// backoff decides).
func Retry(after time.Duration, reason string) Result {
	return Result{Verdict: verdict.Retry, RetryAfter: after, Reason: reason}
}

// Drop discards the event.
func Drop(reason string) Result { return Result{Verdict: verdict.Drop, Reason: reason} }

// DeadLetter moves the event to the route's dead-letter channel now.
func DeadLetter(reason string) Result { return Result{Verdict: verdict.DeadLetter, Reason: reason} }
