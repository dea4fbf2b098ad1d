package rabbitmq

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/batcher"

	"github.com/eventbus-go/eventbus/adapters"
)

// Scheme is the URL scheme of this backend.
const Scheme = "rabbit"

// Defaults for the URL options.
const (
	DefaultPrefix          = "eventbus."
	DefaultPrefetch        = 16
	DefaultDeliveryLimit   = 20
	DefaultMaxMessageBytes = 4 << 20
)

// dlqSuffix names a channel's dead-letter channel.
const dlqSuffix = ".dlq"

// maxInflightPublishes bounds the Sends of one topic waiting for confirms.
const maxInflightPublishes = 256

type options struct {
	prefix          string
	prefetch        int
	deliveryLimit   int
	maxMessageBytes int
}

func parseOptions(q url.Values) (options, error) {
	o := options{prefix: DefaultPrefix, prefetch: DefaultPrefetch, deliveryLimit: DefaultDeliveryLimit, maxMessageBytes: DefaultMaxMessageBytes}
	for key, vals := range q {
		v := vals[0]
		if key == "prefix" {
			o.prefix = v
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return o, adapters.Errorf(adapters.InvalidArgument, "rabbit:// option %s=%q must be a positive integer", key, v)
		}
		switch key {
		case "prefetch":
			o.prefetch = n
		case "delivery_limit":
			o.deliveryLimit = n
		case "max_message_bytes":
			o.maxMessageBytes = n
		default:
			return o, adapters.Errorf(adapters.InvalidArgument, "rabbit:// has no option %q (known: prefix, prefetch, delivery_limit, max_message_bytes)", key)
		}
	}
	return o, nil
}

// Open is the adapters.Opener for rabbit:// URLs. It fails with Unavailable
// when the broker cannot be reached; once open, the backend reconnects by
// itself.
func Open(ctx context.Context, u *url.URL) (adapters.Backend, error) {
	if u.Scheme != Scheme {
		return nil, adapters.Errorf(adapters.InvalidArgument, "URL scheme %q is not %s://", u.Scheme, Scheme)
	}
	opts, err := parseOptions(u.Query())
	if err != nil {
		return nil, err
	}
	amqpURL := *u
	amqpURL.Scheme, amqpURL.RawQuery = "amqp", ""
	s, err := dial(ctx, amqpURL.String(), u.Host)
	if err != nil {
		return nil, err
	}
	return &Backend{opts: opts, s: s}, nil
}

// Backend is one connection to a RabbitMQ vhost.
type Backend struct {
	opts options
	s    *session
}

var _ adapters.Backend = (*Backend)(nil)

// Capabilities implements adapters.Backend: quorum queues keep messages
// across a restart of the bus and of the broker.
func (b *Backend) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{Durable: true, MaxMessageBytes: b.opts.maxMessageBytes}
}

// Ping implements adapters.Backend with a round trip to the broker.
func (b *Backend) Ping(context.Context) error {
	conn, err := b.s.connection()
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return b.s.unavailable(err)
	}
	return ignoreClosed(ch.Close())
}

// Close implements adapters.Backend. It is safe to call more than once.
func (b *Backend) Close() error { return b.s.close() }

// names of what EnsureChannel declares for a channel.
type names struct {
	exchange, queue, dlx, dlq string
}

func (b *Backend) names(channel string) names {
	base := b.opts.prefix + channel
	// An exchange and a queue may share a name: they are separate kinds.
	return names{exchange: base, queue: base, dlx: base + dlqSuffix, dlq: base + dlqSuffix}
}

// do runs f on a fresh AMQP channel: a failed operation closes its channel,
// so provisioning never shares one.
func (b *Backend) do(channel, op string, f func(ch *amqp.Channel) error) error {
	conn, err := b.s.connection()
	if err != nil {
		return adapters.Errorf(adapters.Unavailable, "channel %q: %s: %w", channel, op, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return b.fail(channel, op, err)
	}
	defer func() { _ = ch.Close() }() // a channel an error closed answers ErrClosed
	if err := f(ch); err != nil {
		return b.fail(channel, op, err)
	}
	return nil
}

// EnsureChannel implements adapters.Provisioner. Declaring what exists
// with the same arguments is a no-op; a queue that exists with other
// arguments (another delivery_limit) fails with FailedPrecondition.
func (b *Backend) EnsureChannel(_ context.Context, channel string) error {
	if channel == "" || strings.HasSuffix(channel, dlqSuffix) {
		return adapters.Errorf(adapters.InvalidArgument, "channel name %q is empty or ends in %q, which is kept for dead-letter channels", channel, dlqSuffix)
	}
	if n := len(b.opts.prefix + channel + dlqSuffix); n > 255 {
		return adapters.Errorf(adapters.InvalidArgument, "channel %q: queue names would be %d bytes, over RabbitMQ's 255: use a shorter route name or prefix", channel, n)
	}
	n := b.names(channel)
	return b.do(channel, "declare", func(ch *amqp.Channel) error {
		quorum := amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
		if err := declare(ch, n.dlx, n.dlq, quorum); err != nil {
			return err
		}
		return declare(ch, n.exchange, n.queue, amqp.Table{
			amqp.QueueTypeArg:        amqp.QueueTypeQuorum,
			"x-dead-letter-exchange": n.dlx,
			"x-delivery-limit":       int64(b.opts.deliveryLimit),
		})
	})
}

// declare declares a durable fanout exchange and a durable queue bound to it.
func declare(ch *amqp.Channel, exchange, queue string, args amqp.Table) error {
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return err
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, args); err != nil {
		return err
	}
	return ch.QueueBind(queue, "", exchange, false, nil)
}

// DeleteChannel implements adapters.Provisioner: the channel's queue and
// exchange, and its dead-letter queue and exchange, with their messages.
func (b *Backend) DeleteChannel(_ context.Context, channel string) error {
	n := b.names(channel)
	return b.do(channel, "delete", func(ch *amqp.Channel) error {
		if _, err := ch.QueueDelete(n.queue, false, false, false); err != nil {
			return err
		}
		if err := ch.ExchangeDelete(n.exchange, false, false); err != nil {
			return err
		}
		if _, err := ch.QueueDelete(n.dlq, false, false, false); err != nil {
			return err
		}
		return ch.ExchangeDelete(n.dlx, false, false)
	})
}

// Depth implements adapters.Provisioner. RabbitMQ counts the messages
// ready for delivery; those delivered and unacked are not counted.
func (b *Backend) Depth(_ context.Context, channel string) (int64, error) {
	var depth int64
	err := b.do(channel, "depth", func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclarePassive(b.names(channel).queue, true, false, false, false, nil)
		depth = int64(q.Messages)
		return err
	})
	return depth, err
}

// Purge implements adapters.Provisioner. Unacked deliveries stay.
func (b *Backend) Purge(_ context.Context, channel string) error {
	return b.do(channel, "purge", func(ch *amqp.Channel) error {
		_, err := ch.QueuePurge(b.names(channel).queue, false)
		return err
	})
}

// OpenTopic implements adapters.Channels. The topic publishes to the
// channel's exchange; the channel must exist.
func (b *Backend) OpenTopic(_ context.Context, channel string) (*pubsub.Topic, error) {
	n := b.names(channel)
	err := b.do(channel, "open topic", func(ch *amqp.Channel) error {
		return ch.ExchangeDeclarePassive(n.exchange, amqp.ExchangeFanout, true, false, false, false, nil)
	})
	if err != nil {
		return nil, err
	}
	t := &topic{b: b, channel: channel, exchange: n.exchange}
	// One message per batch, so a refused message fails its own Send only;
	// many handlers keep many publishes in flight on one AMQP channel.
	return pubsub.NewTopic(t, &batcher.Options{MaxBatchSize: 1, MaxHandlers: maxInflightPublishes}), nil
}

// OpenSubscription implements adapters.Channels. The channel must exist.
func (b *Backend) OpenSubscription(_ context.Context, channel string, opts adapters.SubscriptionOptions) (*pubsub.Subscription, error) {
	queue := b.names(channel).queue
	err := b.do(channel, "open subscription", func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	prefetch := opts.MaxInflight
	if prefetch <= 0 {
		prefetch = b.opts.prefetch
	}
	s := &subscription{b: b, channel: channel, queue: queue, prefetch: prefetch}
	return pubsub.NewSubscription(s, &batcher.Options{MaxBatchSize: prefetch, MaxHandlers: 1}, nil), nil
}

// fail wraps an AMQP error once, with the channel, the operation, and what
// to do about it.
func (b *Backend) fail(channel, op string, err error) error {
	switch code := codeOf(err); code {
	case adapters.NotFound:
		return adapters.Errorf(code, "channel %q: %s: it does not exist on RabbitMQ at %s (ensure the route's channel first): %w", channel, op, b.s.addr, err)
	case adapters.FailedPrecondition:
		return adapters.Errorf(code, "channel %q: %s: RabbitMQ at %s refused (check the user's permissions on the vhost, and that the queue was declared with this URL's options): %w", channel, op, b.s.addr, err)
	case adapters.Unavailable:
		return adapters.Errorf(code, "channel %q: %s: RabbitMQ at %s is unavailable, retry later: %w", channel, op, b.s.addr, err)
	default:
		return adapters.Errorf(code, "channel %q: %s: %w", channel, op, err)
	}
}

// codeOf classifies an error from amqp091 by AMQP reply code.
func codeOf(err error) adapters.Code {
	var e *amqp.Error
	if !errors.As(err, &e) {
		return adapters.Unavailable // the network: dial and I/O errors
	}
	switch e.Code {
	case amqp.NotFound:
		return adapters.NotFound
	case amqp.AccessRefused, amqp.PreconditionFailed, amqp.ResourceLocked, amqp.NotAllowed:
		return adapters.FailedPrecondition
	case amqp.ContentTooLarge:
		return adapters.InvalidArgument
	case amqp.ResourceError:
		return adapters.ResourceExhausted
	case amqp.SyntaxError, amqp.CommandInvalid, amqp.NotImplemented, amqp.InternalError:
		return adapters.Internal
	}
	return adapters.Unavailable // connection forced, channel and frame errors
}

// ignoreClosed drops the error of closing what is already closed.
func ignoreClosed(err error) error {
	if errors.Is(err, amqp.ErrClosed) {
		return nil
	}
	return err
}
