// Package verdict names what happens to an event after one delivery
// attempt: ack, retry, drop or dead-letter.
//
// It is the one word for that decision, shared by everyone who makes or
// carries it: an HTTP target's Eventbus-Verdict header, a handler plugin's
// Result (sdk/plugin), the plugin host (plugins) and the dispatcher that
// acts on it (bus). It is a leaf, importing only the standard library, so
// the SDK can use it without importing the bus, and plugins without bus.
//
// The names are a wire format: String and Parse read and write the header
// values, and plugins/proto maps each Verdict to the protocol's Kind.
// Adding a verdict changes both wires.
package verdict

import "fmt"

// Verdict is what the bus does with an event after one delivery attempt.
// The zero Verdict is Ack.
type Verdict int

const (
	// Ack: handled; the event is done and removed from its channel.
	Ack Verdict = iota
	// Retry: deliver it again later, no sooner than a RetryAfter the
	// target gives; attempts count towards the route's max_attempts,
	// after which the event is dead-lettered.
	Retry
	// Drop: discard it, deliberately; retrying cannot help and nobody
	// needs to see it.
	Drop
	// DeadLetter: give up now and move it to the route's dead-letter
	// channel, with the reason, for a person to look at (and redrive).
	DeadLetter
)

var names = [...]string{Ack: "ack", Retry: "retry", Drop: "drop", DeadLetter: "dead-letter"}

// String is the verdict's name: "ack", "retry", "drop" or "dead-letter".
func (v Verdict) String() string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Parse reads a verdict's name as String writes it. It reports false for
// any other string, including other spellings: callers that accept looser
// input (an HTTP header) normalise it first.
func Parse(s string) (Verdict, bool) {
	for v, name := range names {
		if s == name {
			return Verdict(v), true
		}
	}
	return 0, false
}
