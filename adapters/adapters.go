package adapters

import (
	"context"

	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/driver"
)

// Backend is one connection to a message backend, shared by every route whose
// backend URL is the same.
type Backend interface {
	Provisioner
	Channels
	// Capabilities reports what this backend guarantees.
	Capabilities() Capabilities
	// Ping reports whether the backend is reachable now; it backs /readyz.
	Ping(ctx context.Context) error
	// Close releases the connection. Topics and subscriptions opened from it
	// must be shut down first.
	Close() error
}

// Channels opens the data plane of a provisioned channel.
type Channels interface {
	// OpenTopic returns a topic that publishes to the named channel. Send
	// returns only once the backend has stored the message.
	OpenTopic(ctx context.Context, channel string) (*pubsub.Topic, error)
	// OpenSubscription returns a subscription that consumes the named
	// channel. Several subscriptions on one channel compete for its messages.
	OpenSubscription(ctx context.Context, channel string, opts SubscriptionOptions) (*pubsub.Subscription, error)
}

// SubscriptionOptions tune one subscription. Zero values mean the defaults.
type SubscriptionOptions struct {
	// MaxInflight bounds the messages received but not yet acked or nacked
	// (a prefetch count where the backend has one). Zero means 16.
	MaxInflight int
	// Ordered says the subscriber needs Capabilities.Ordering: messages
	// with a MetaOrderingKey one at a time, per key. A backend whose
	// ordering costs resources (RabbitMQ's per-key lanes) spends them only
	// for ordered subscriptions; one that keeps order anyway ignores it.
	Ordered bool
}

// Provisioner manages the channels pubsub itself does not declare.
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

// Publisher is a backend that publishes to named topics other systems
// read, for routes whose target is a topic. Unlike a route's channel, the
// topic belongs to its readers: the bus declares it if missing but never
// binds or deletes anything.
type Publisher interface {
	// OpenPublisher returns a topic that publishes to the named topic;
	// Send returns once the backend stored the message. Messages carry the
	// CloudEvent in the backend's CloudEvents binding, readable by any
	// CloudEvents SDK.
	OpenPublisher(ctx context.Context, topic string) (*pubsub.Topic, error)
}

// Sender is a backend whose channels can be written through the driver's
// own SendBatch, skipping pubsub.Topic's batcher and its per-call tracing
// span and metric (together about 6 µs and a third of the allocations per
// event, measured on the ingress benchmark). Ingress uses it on its hot path
// where a backend offers it; everything else goes through pubsub.Topic.
type Sender interface {
	// OpenSender returns the driver topic behind OpenTopic(ctx, channel).
	// Its SendBatch returns once the backend stored every message.
	OpenSender(ctx context.Context, channel string) (driver.Topic, error)
}

// Receiver is a backend whose channels can be consumed through the driver's
// own ReceiveBatch, SendAcks and SendNacks, skipping pubsub.Subscription's
// per-message tracing span, finalizer and ack batcher. The bus's
// dispatchers use it where a backend offers it, the way ingress uses Sender.
type Receiver interface {
	// OpenReceiver returns the driver subscription behind
	// OpenSubscription(ctx, channel, opts). Its methods may be called from
	// several goroutines at once; Close gives back what it still holds.
	OpenReceiver(ctx context.Context, channel string, opts SubscriptionOptions) (driver.Subscription, error)
}

// HeadDropper is a backend that can discard the oldest waiting message of a
// channel, for routes whose overflow policy is drop-oldest.
type HeadDropper interface {
	// DropOldest discards the oldest message waiting in the channel (not
	// one in flight) and reports whether there was one.
	DropOldest(ctx context.Context, channel string) (bool, error)
}

// Capabilities is what a backend guarantees, declared rather than discovered.
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
