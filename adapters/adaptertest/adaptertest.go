// Package adaptertest is the conformance suite every backend runs. A backend's
// own test calls Run with a Harness; the suite then proves, one named subtest
// per promise, that the backend keeps the contract written in package
// adapters:
//
//   - an event crosses the backend with every CloudEvents attribute, its
//     extensions and binary data intact (EncodeEvent, then DecodeEvent);
//   - an event and the bus's stamp sent with Channel.SendEvent arrive as
//     EncodeStamped's message sent with Send does;
//   - an acked message is gone; a nacked one, or one still unacked when its
//     subscription shuts down, is delivered again (at-least-once across a
//     subscriber restart);
//   - subscriptions on one channel compete for its messages and lose none;
//   - Depth counts waiting messages, Purge empties a channel, a deleted
//     channel answers NotFound;
//   - a message of exactly Capabilities.MaxMessageBytes is accepted and one
//     byte more is refused with InvalidArgument;
//   - concurrent publishers lose nothing; shutting a subscription down twice,
//     with deliveries in flight, is harmless;
//   - a channel named <channel>.dlq keeps a message moved there (published,
//     then the original acked) with its metadata, through a look-and-nack
//     listing, until an ack removes it: the bus's dead letters;
//   - DropOldest discards the oldest waiting message, and a topic takes
//     published events within the size limit, where Capabilities declare
//     them; where they do not, both answer FailedPrecondition;
//   - when the Harness can take the backend away (Outage), the adapter
//     answers Unavailable meanwhile and recovers on its own when it returns.
//
// The suite drives the backend through adapters.Backend, the wrapper the bus
// itself uses, so what it proves is what production runs: Channel.Send and
// SendEvent, Subscription.Receive, Ack and Nack, DropOldest and
// Topic.Publish, with the batching the backend declares.
//
// What a backend guarantees is declared, not discovered: the suite reads the
// backend's Capabilities and the Harness, and a subtest that does not apply
// skips naming the capability that is false: per-key ordering is checked
// only when Capabilities.Ordering is declared, MetaDeliverAt only when
// Capabilities.Delay is. When to dead-letter (after a route's max_attempts,
// or on a target's verdict) is the bus's decision, made the same way on
// every backend and tested in package bus; what the backend must do for it
// is the dead-letter subtest.
//
// Every subtest works on channels of its own, with unique names, and deletes
// them, shuts its topics and subscriptions down and closes its backend when
// it ends. Waits are bounded polls, never sleeps.
package adaptertest

import (
	"context"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/adapters"
)

// Harness is what a backend's test gives the suite.
type Harness struct {
	// Open connects to the backend under test and returns its driver,
	// which the suite wraps with adapters.New, as the registry does. The
	// suite calls it once per subtest and closes the backend when the
	// subtest ends. Required.
	Open func(ctx context.Context) (adapters.Driver, error)
	// Outage, when set, lets the suite take the backend away and bring it
	// back. Nil declares that the backend cannot go away on its own (it
	// lives inside the process), and the outage subtest skips.
	Outage *Outage
}

// Outage stops and restarts the server behind a backend, keeping its stored
// messages as a real restart would.
type Outage struct {
	// Stop makes the server unreachable; it returns once it is.
	Stop func(ctx context.Context) error
	// Start brings the server back; it returns once the server accepts
	// connections again.
	Start func(ctx context.Context) error
}

// Timeouts of the suite: how long one receive may wait for a message that
// should be there, and how long a state (a depth, a recovery) may take to
// show.
const (
	receiveTimeout = 10 * time.Second
	settleTimeout  = 30 * time.Second
)

// Run runs the conformance suite against the backend h opens.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil {
		t.Fatal("adaptertest: Harness.Open is required")
	}
	contract := []struct {
		name string
		test func(*testing.T, *env)
	}{
		{"RoundTripKeepsEveryAttributeAndBinaryData", testRoundTrip},
		{"SendEventStoresWhatSendStores", testSendEvent},
		{"AckRemovesTheMessage", testAckRemoves},
		{"NackRedelivers", testNackRedelivers},
		{"UnackedAtShutdownIsRedeliveredToTheNextSubscriber", testUnackedRedelivered},
		{"CompetingConsumersShareWorkWithoutLoss", testCompetingConsumers},
		{"DepthCountsWaitingMessages", testDepth},
		{"PurgeRemovesWaitingMessages", testPurge},
		{"DeletedChannelIsNotFound", testDelete},
		{"MaxMessageSizeAcceptedOneByteMoreRefused", testMaxMessageSize},
		{"ConcurrentPublishersLoseNothing", testConcurrentPublishers},
		{"ShutdownTwiceWithDeliveriesInFlightIsHarmless", testShutdownTwice},
		{"DeadLetterChannelKeepsWhatTheBusMovesThere", testDeadLetterChannel},
		{"OrderingKeyKeepsOrder", testOrderingKey},
		{"DeliverAtHoldsMessageWithoutBlockingOthers", testDeliverAt},
		{"DropOldestDiscardsTheOldestWaitingMessage", testDropOldest},
		{"TopicTakesPublishedEvents", testTopic},
	}
	// The contract subtests share the backend server, each on its own
	// channels, so they run in parallel. The outage subtest takes the server
	// away and so runs alone, after them.
	t.Run("Contract", func(t *testing.T) {
		for _, c := range contract {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				c.test(t, open(t, h))
			})
		}
	})
	t.Run("OutageAnswersUnavailableAndRecovers", func(t *testing.T) {
		if h.Outage == nil {
			t.Skip("the harness declares no Outage: this backend cannot go away on its own")
		}
		testOutage(t, open(t, h), h.Outage)
	})
}
