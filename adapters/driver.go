package adapters

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"
	"gocloud.dev/pubsub/driver"
)

// Driver is what a backend supplies: gocloud.dev/pubsub/driver topics and
// subscriptions for its channels, the provisioning gocloud leaves out, and
// the Capabilities that say what it guarantees. The bus never calls a
// Driver itself; New wraps it once into a Backend.
type Driver interface {
	Provisioner
	// Capabilities reports what this backend guarantees and how it is best
	// driven. It must not change while the driver is open.
	Capabilities() Capabilities
	// OpenChannel returns a driver topic that sends to the named channel.
	// SendBatch returns only once the backend has stored every message, and
	// may be called from several goroutines at once. The channel must
	// exist, else NotFound.
	OpenChannel(ctx context.Context, channel string) (driver.Topic, error)
	// OpenSubscription returns a driver subscription that consumes the
	// named channel; opts.MaxInflight is already defaulted. Several
	// subscriptions on one channel compete for its messages. Its methods
	// may be called from several goroutines at once; Close gives back what
	// it still holds. ReceiveBatch returns within about a second when no
	// message comes, even if ctx does not end: a Subscription's Shutdown
	// waits for it. The channel must exist, else NotFound.
	OpenSubscription(ctx context.Context, channel string, opts SubscriptionOptions) (driver.Subscription, error)
	// Ping reports whether the backend is reachable now; it backs /readyz.
	Ping(ctx context.Context) error
	// Close releases the connection. Topics and subscriptions opened from
	// it must be closed first.
	Close() error
}

// HeadDropper is the optional ability behind Capabilities.DropOldest, for
// routes whose overflow policy is drop-oldest.
type HeadDropper interface {
	// DropOldest discards the oldest message waiting in the channel (not
	// one in flight) and reports whether there was one.
	DropOldest(ctx context.Context, channel string) (bool, error)
}

// TopicOpener is the optional ability behind Capabilities.Topics, for
// routes whose target is a topic. Unlike a route's channel, a topic belongs
// to its readers: the driver declares it if missing but never binds or
// deletes anything.
type TopicOpener interface {
	// OpenTopic returns a driver topic that sends to the named topic;
	// SendBatch returns once the backend stored every message. Messages
	// carry the CloudEvent in the backend's CloudEvents binding, readable
	// by any CloudEvents SDK.
	OpenTopic(ctx context.Context, topic string) (driver.Topic, error)
}

// EventSender is an optional ability of a driver topic that keeps its
// messages in the bus's process (the in-memory backend): it stores an
// event and the bus's stamp itself, for Channel.SendEvent, packing its own
// form from their fields (EachMetadata) instead of flattening the map
// EncodeStamped would build. It is used only where the backend declares
// no Batching.MaxSendBatch. Unlike the other optional abilities it
// changes nothing a route can ask for, so no Capabilities flag declares
// it; what it stores must be received exactly as EncodeStamped(e, s)
// sent with SendBatch would be, which the conformance suite checks.
type EventSender interface {
	// SendEvent returns only once the event is stored, as SendBatch does.
	// e is shared (several routes' channels are sent it at once) and must
	// not be modified.
	SendEvent(ctx context.Context, e *event.Event, s Stamp) error
}

// Provisioner manages the channels gocloud's pubsub does not declare.
type Provisioner interface {
	// EnsureChannel creates the channel if it does not exist; it is a no-op
	// for one that does.
	EnsureChannel(ctx context.Context, channel string) error
	// DeleteChannel removes the channel and every message in it. Deleting
	// a channel that does not exist is not an error; once deleted, every
	// operation on the channel fails with NotFound.
	DeleteChannel(ctx context.Context, channel string) error
	// Depth counts the messages stored in the channel and waiting for a
	// subscriber. Messages delivered and not yet acked may or may not be
	// counted (RabbitMQ does not count them), so the depth is exact only
	// when nothing is in flight.
	Depth(ctx context.Context, channel string) (int64, error)
	// Purge removes every message waiting in the channel.
	Purge(ctx context.Context, channel string) error
}

// SubscriptionOptions tune one subscription. Zero values mean the defaults.
type SubscriptionOptions struct {
	// MaxInflight bounds the messages received but not yet acked or nacked
	// (a prefetch count where the backend has one). Zero means the
	// backend's Batching.MaxInflight.
	MaxInflight int
	// Ordered says the subscriber needs Capabilities.Ordering: messages
	// with a MetaOrderingKey one at a time, per key. A backend whose
	// ordering costs resources (RabbitMQ's per-key lanes) spends them only
	// for ordered subscriptions; one that keeps order anyway ignores it.
	Ordered bool
}

// Capabilities is what a backend guarantees, declared rather than
// discovered, and how it is best driven.
type Capabilities struct {
	// Durable backends keep stored messages across a restart of the bus.
	// The bus drains a non-durable channel before it exits.
	Durable bool
	// MaxMessageBytes is the largest message the backend accepts, as
	// MessageBytes counts it. Publishing a larger one fails with
	// InvalidArgument.
	MaxMessageBytes int
	// Delay: the backend holds a message with MetaDeliverAt until then.
	Delay bool
	// Ordering: the backend hands out messages with the same
	// MetaOrderingKey one at a time, in the order they were published, and
	// the next only once the previous is acked.
	Ordering bool
	// DropOldest: the driver is a HeadDropper.
	DropOldest bool
	// Topics: the driver is a TopicOpener.
	Topics bool
	// Archive: the driver is an Archiver.
	Archive bool
	// Local: sends, acks and nacks complete in this process, waiting on
	// no network or disk. Sends to a local backend gain nothing from being
	// made at once, so the bus stores a batch's events on it one after
	// another.
	Local bool
	// Batching is how the Backend drives the driver.
	Batching Batching
}

// Batching is how a Backend drives its driver: what the backend declares
// so that the portable layer, not each driver, applies it. Zero values mean
// the defaults.
type Batching struct {
	// MaxInflight is a subscription's MaxInflight when its options leave
	// it zero. Zero means 16.
	MaxInflight int
	// MaxSendBatch, above 1, gathers the Sends of one channel or topic
	// waiting at the same time into SendBatch calls of up to this many
	// messages, with up to SendHandlers calls at once: for backends whose
	// every request costs a round trip (SQS). Zero or 1 means each Send
	// calls SendBatch with its own message, from its own goroutine.
	MaxSendBatch int
	// SendHandlers bounds the SendBatch calls of one batched channel or
	// topic at once. Zero means 1.
	SendHandlers int
	// MaxReceiveBatch is how many messages one Receive asks the driver
	// for (those beyond the first wait in the subscription for the next
	// receives; zero means 1), and the most one receive returns, which a
	// batch route's dispatcher reads (Subscription.PerReceive; zero means
	// as many as asked for).
	MaxReceiveBatch int
	// MaxAckBatch, above 1, gathers acks into SendAcks calls of up to this
	// many, sent in the background and flushed when the subscription shuts
	// down. Zero or 1 means each Ack calls SendAcks at once.
	MaxAckBatch int
	// QueuedAcks: the driver's SendAcks and SendNacks complete at once in
	// this process (a local backend's) or hand what they send to a
	// connection and return, taking no context: each is called without a
	// deadline of its own.
	QueuedAcks bool
}

// MessageBytes is the size of a message as every backend's limit counts it:
// the body's length plus the length of every metadata name and value.
func MessageBytes(body []byte, metadata map[string]string) int {
	n := len(body)
	for k, v := range metadata {
		n += len(k) + len(v)
	}
	return n
}
