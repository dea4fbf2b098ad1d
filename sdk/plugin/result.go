package plugin

import (
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Verdict is what the bus does with a delivered event.
type Verdict int

const (
	// VerdictAck: handled; the event is done. The zero Result is an ack.
	VerdictAck Verdict = iota
	// VerdictRetry: deliver it again later; it counts towards the route's
	// max_attempts, after which the event is dead-lettered.
	VerdictRetry
	// VerdictDrop: discard it; retrying cannot help and nobody needs to see
	// it.
	VerdictDrop
	// VerdictDeadLetter: move it to the route's dead-letter channel now,
	// with the reason, for a person to look at (and redrive).
	VerdictDeadLetter
)

func (v Verdict) String() string {
	switch v {
	case VerdictAck:
		return "ack"
	case VerdictRetry:
		return "retry"
	case VerdictDrop:
		return "drop"
	case VerdictDeadLetter:
		return "dead-letter"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Result is a handler's answer for one event.
type Result struct {
	Verdict Verdict
	// RetryAfter, with VerdictRetry, is the least wait before the next
	// attempt; zero leaves it to the route's backoff.
	RetryAfter time.Duration
	// Reason says why, for the bus's log and dead letters.
	Reason string
	// Replies, with VerdictAck, are events the bus sends into its ingress,
	// to be routed like any other. An empty id is filled in; the bus sets
	// causationid (the handled event's id) and correlationid.
	Replies []event.Event
}

// Ack is the result of a handled event, with the events to emit in reply.
func Ack(replies ...event.Event) Result { return Result{Replies: replies} }

// Retry asks for the event again, after at least after (zero: the route's
// backoff decides).
func Retry(after time.Duration, reason string) Result {
	return Result{Verdict: VerdictRetry, RetryAfter: after, Reason: reason}
}

// Drop discards the event.
func Drop(reason string) Result { return Result{Verdict: VerdictDrop, Reason: reason} }

// DeadLetter moves the event to the route's dead-letter channel now.
func DeadLetter(reason string) Result { return Result{Verdict: VerdictDeadLetter, Reason: reason} }
