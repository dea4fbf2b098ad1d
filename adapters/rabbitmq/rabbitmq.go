package rabbitmq

import (
	"context"
	"crypto/tls"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// Scheme is the URL scheme of this backend; SchemeTLS is the same over
// TLS, with the query options of adapters.TLSOptions.
const (
	Scheme    = "rabbit"
	SchemeTLS = "amqps"
)

// Defaults for the URL options.
const (
	DefaultPrefix          = "eventbus."
	DefaultPrefetch        = 16
	DefaultDeliveryLimit   = 20
	DefaultMaxMessageBytes = 4 << 20
	DefaultLanes           = 16
)

// dlqSuffix names a channel's dead-letter channel.
const dlqSuffix = ".dlq"

type options struct {
	prefix          string
	prefetch        int
	deliveryLimit   int
	maxMessageBytes int
	lanes           int
	tls             adapters.TLSOptions
}

func parseOptions(q url.Values) (options, error) {
	o := options{prefix: DefaultPrefix, prefetch: DefaultPrefetch, deliveryLimit: DefaultDeliveryLimit, maxMessageBytes: DefaultMaxMessageBytes, lanes: DefaultLanes}
	for key, vals := range q {
		v := vals[0]
		if key == "prefix" {
			o.prefix = v
			continue
		}
		if o.tls.Set(key, v) {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return o, errcode.Errorf(errcode.InvalidArgument, "rabbit:// option %s=%q must be a positive integer", key, v)
		}
		switch key {
		case "prefetch":
			o.prefetch = n
		case "delivery_limit":
			o.deliveryLimit = n
		case "max_message_bytes":
			o.maxMessageBytes = n
		case "lanes":
			o.lanes = n
		default:
			return o, errcode.Errorf(errcode.InvalidArgument, "rabbit:// has no option %q (known: prefix, prefetch, delivery_limit, max_message_bytes, lanes; with amqps:// also %s)", key, adapters.TLSOptionNames)
		}
	}
	return o, nil
}

// Open is the adapters.Opener for rabbit:// and amqps:// URLs. It fails
// with Unavailable when the broker cannot be reached, and with
// InvalidArgument when a TLS option names a file that does not load; once
// open, the backend reconnects by itself.
func Open(ctx context.Context, u *url.URL) (adapters.Driver, error) {
	if u.Scheme != Scheme && u.Scheme != SchemeTLS {
		return nil, errcode.Errorf(errcode.InvalidArgument, "URL scheme %q is not %s:// or %s://", u.Scheme, Scheme, SchemeTLS)
	}
	opts, err := parseOptions(u.Query())
	if err != nil {
		return nil, err
	}
	amqpURL := *u
	amqpURL.Scheme, amqpURL.RawQuery = "amqp", ""
	var tlsConfig *tls.Config
	switch {
	case u.Scheme == SchemeTLS:
		if tlsConfig, err = opts.tls.Config(SchemeTLS + "://"); err != nil {
			return nil, err
		}
		amqpURL.Scheme = "amqps"
	case !opts.tls.IsZero():
		return nil, errcode.Errorf(errcode.InvalidArgument, "rabbit:// does not use TLS, so its options %s do nothing: write the URL as amqps://", adapters.TLSOptionNames)
	}
	s, err := dial(ctx, amqpURL.String(), u.Host, tlsConfig)
	if err != nil {
		return nil, err
	}
	return &Driver{opts: opts, s: s, lanes: map[string]bool{}}, nil
}

// Driver is one connection to a RabbitMQ vhost.
type Driver struct {
	opts options
	s    *session

	lanesMu sync.Mutex
	lanes   map[string]bool // lane queues declared by this backend
}

var _ adapters.Driver = (*Driver)(nil)

// Capabilities implements adapters.Driver: quorum queues keep messages
// across a restart of the bus and of the broker; delay queues hold
// messages until MetaDeliverAt; key-hashed lanes keep per-key order. A
// subscription's default prefetch is the URL's. Sends are not batched:
// concurrent publishes already share one AMQP channel, each waiting for
// its own confirm, so a refused message fails its own Send only.
func (b *Driver) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{
		Durable: true, MaxMessageBytes: b.opts.maxMessageBytes, Delay: true, Ordering: true, Topics: true,
		Batching: adapters.Batching{MaxInflight: b.opts.prefetch},
	}
}

// Ping implements adapters.Driver with a round trip to the broker.
func (b *Driver) Ping(context.Context) error {
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

// Close implements adapters.Driver. It is safe to call more than once.
func (b *Driver) Close() error { return b.s.close() }

// names of what a channel is made of on the broker.
type names struct {
	exchange, queue, dlx, dlq string
	// base+":delay:"+label and base+":lane:"+index; ':' cannot occur in a
	// route name, so these never collide with another channel's names.
	base string
}

func (b *Driver) names(channel string) names {
	base := b.opts.prefix + channel
	// An exchange and a queue may share a name: they are separate kinds.
	return names{exchange: base, queue: base, dlx: base + dlqSuffix, dlq: base + dlqSuffix, base: base}
}

func (n names) delay(bucket time.Duration) string { return n.base + ":delay:" + bucketLabel(bucket) }
func (n names) lane(i int) string                 { return n.base + ":lane:" + strconv.Itoa(i) }

// isDeadLetter reports whether channel names a dead-letter channel, which
// holds events for people and redrive: it has no delay queues or lanes.
func isDeadLetter(channel string) bool { return strings.HasSuffix(channel, dlqSuffix) }

// do runs f on a fresh AMQP channel: a failed operation closes its channel,
// so provisioning never shares one.
func (b *Driver) do(channel, op string, f func(ch *amqp.Channel) error) error {
	conn, err := b.s.connection()
	if err != nil {
		return errcode.Errorf(errcode.Unavailable, "channel %q: %s: %w", channel, op, err)
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
//
// For channel C it declares C's exchange and queue, its dead-letter
// exchange and queue, and one delay queue per bucket. For "C.dlq" it
// declares the dead-letter exchange and queue alone (the same ones C
// declares), so a dead-letter channel can be ensured like any other.
func (b *Driver) EnsureChannel(_ context.Context, channel string) error {
	if channel == "" || channel == dlqSuffix {
		return errcode.Errorf(errcode.InvalidArgument, "channel name %q is empty", channel)
	}
	longest := b.names(channel).delay(delayBuckets[len(delayBuckets)-1])
	if lane := b.names(channel).lane(b.opts.lanes - 1); len(lane) > len(longest) {
		longest = lane
	}
	if n := max(len(longest), len(b.opts.prefix+channel+dlqSuffix)); n > 255 {
		return errcode.Errorf(errcode.InvalidArgument, "channel %q: queue names would be up to %d bytes, over RabbitMQ's 255: use a shorter route name or prefix", channel, n)
	}
	n := b.names(channel)
	return b.do(channel, "declare", func(ch *amqp.Channel) error {
		quorum := amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
		if isDeadLetter(channel) {
			return declare(ch, n.exchange, n.queue, quorum)
		}
		if err := declare(ch, n.dlx, n.dlq, quorum); err != nil {
			return err
		}
		if err := declare(ch, n.exchange, n.queue, b.queueArgs(n)); err != nil {
			return err
		}
		for _, bucket := range delayBuckets {
			if _, err := ch.QueueDeclare(n.delay(bucket), true, false, false, false, delayArgs(n, bucket)); err != nil {
				return err
			}
		}
		return nil
	})
}

// queueArgs are the arguments of a channel's queue and of its lanes:
// redelivery is bounded, and past the bound a message is dead-lettered.
func (b *Driver) queueArgs(n names) amqp.Table {
	return amqp.Table{
		amqp.QueueTypeArg:        amqp.QueueTypeQuorum,
		"x-dead-letter-exchange": n.dlx,
		"x-delivery-limit":       int64(b.opts.deliveryLimit),
	}
}

// delayArgs make a delay queue: its messages expire after the bucket's
// wait into the channel's exchange. At-least-once dead-lettering keeps a
// message in the delay queue until the channel's queue confirmed it, so a
// broker crash in between loses nothing; RabbitMQ requires reject-publish
// overflow for it.
func delayArgs(n names, bucket time.Duration) amqp.Table {
	return amqp.Table{
		amqp.QueueTypeArg:        amqp.QueueTypeQuorum,
		"x-message-ttl":          bucket.Milliseconds(),
		"x-dead-letter-exchange": n.exchange,
		"x-dead-letter-strategy": "at-least-once",
		amqp.QueueOverflowArg:    amqp.QueueOverflowRejectPublish,
	}
}

// laneArgs make a lane: a channel queue with a single active consumer, so
// that across every subscriber (and bus replica) one at a time takes it.
func (b *Driver) laneArgs(n names) amqp.Table {
	args := b.queueArgs(n)
	args[amqp.SingleActiveConsumerArg] = true
	return args
}

// declareLanes declares every lane of a channel.
func (b *Driver) declareLanes(ch *amqp.Channel, n names) error {
	for i := range b.opts.lanes {
		if _, err := ch.QueueDeclare(n.lane(i), true, false, false, false, b.laneArgs(n)); err != nil {
			return err
		}
	}
	return nil
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

// queues lists every queue that holds a channel's waiting messages: its
// queue, its delay queues and its lanes (declared or not).
func (b *Driver) queues(channel string) []string {
	n := b.names(channel)
	qs := []string{n.queue}
	if isDeadLetter(channel) {
		return qs
	}
	for _, bucket := range delayBuckets {
		qs = append(qs, n.delay(bucket))
	}
	for i := range b.opts.lanes {
		qs = append(qs, n.lane(i))
	}
	return qs
}

// eachQueue calls f for every queue of the channel that exists, each on an
// AMQP channel of its own, since asking after a queue that does not exist
// closes the AMQP channel. Lanes exist only once used, and delay queues
// only on channels ensured by this version: those missing are skipped.
// The channel's own queue must exist, else NotFound.
func (b *Driver) eachQueue(channel, op string, f func(ch *amqp.Channel, queue string) error) error {
	for i, q := range b.queues(channel) {
		err := b.do(channel, op, func(ch *amqp.Channel) error { return f(ch, q) })
		if err != nil && (i == 0 || errcode.Of(err) != errcode.NotFound) {
			return err
		}
	}
	return nil
}

// DeleteChannel implements adapters.Provisioner: every queue and exchange
// of the channel, with their messages; for "C.dlq", the dead-letter queue
// and exchange.
func (b *Driver) DeleteChannel(_ context.Context, channel string) error {
	n := b.names(channel)
	b.forgetLanes(channel)
	return b.do(channel, "delete", func(ch *amqp.Channel) error {
		for _, q := range b.queues(channel) {
			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				return err
			}
		}
		if err := ch.ExchangeDelete(n.exchange, false, false); err != nil {
			return err
		}
		if isDeadLetter(channel) {
			return nil
		}
		if _, err := ch.QueueDelete(n.dlq, false, false, false); err != nil {
			return err
		}
		return ch.ExchangeDelete(n.dlx, false, false)
	})
}

// Depth implements adapters.Provisioner: the messages ready in the
// channel's queue, its delay queues and its lanes. RabbitMQ does not count
// those delivered and unacked.
func (b *Driver) Depth(_ context.Context, channel string) (int64, error) {
	var depth int64
	err := b.eachQueue(channel, "depth", func(ch *amqp.Channel, queue string) error {
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		depth += int64(q.Messages)
		return err
	})
	return depth, err
}

// Purge implements adapters.Provisioner, delayed messages included.
// Unacked deliveries stay.
func (b *Driver) Purge(_ context.Context, channel string) error {
	return b.eachQueue(channel, "purge", func(ch *amqp.Channel, queue string) error {
		_, err := ch.QueuePurge(queue, false)
		return err
	})
}

// OpenChannel implements adapters.Driver. The topic publishes to the
// channel's exchange, a message due later to the delay queue of its
// bucket, and a message with an ordering key to its lane; the channel
// must exist. Concurrent SendBatch calls pipeline their publishes and
// confirms on one AMQP channel.
func (b *Driver) OpenChannel(_ context.Context, channel string) (driver.Topic, error) {
	n := b.names(channel)
	err := b.do(channel, "open topic", func(ch *amqp.Channel) error {
		return ch.ExchangeDeclarePassive(n.exchange, amqp.ExchangeFanout, true, false, false, false, nil)
	})
	if err != nil {
		return nil, err
	}
	return &topic{b: b, channel: channel, mandatory: true, route: b.channelRoute(channel)}, nil
}

// OpenSubscription implements adapters.Driver. The channel must exist.
// With opts.Ordered the subscription declares the channel's lanes and
// consumes them too, one message at a time each.
func (b *Driver) OpenSubscription(_ context.Context, channel string, opts adapters.SubscriptionOptions) (driver.Subscription, error) {
	n := b.names(channel)
	ordered := opts.Ordered && !isDeadLetter(channel)
	err := b.do(channel, "open subscription", func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclarePassive(n.queue, true, false, false, false, nil); err != nil {
			return err
		}
		if ordered {
			return b.declareLanes(ch, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &subscription{b: b, channel: channel, names: n, prefetch: opts.MaxInflight, ordered: ordered}, nil
}

// OpenTopic implements adapters.TopicOpener. The topic is a durable topic
// exchange named exactly topicName, owned by its readers: it is declared
// if missing (an existing exchange of any type is used as it is) and
// nothing is bound or deleted. Each event is published persistent and
// confirmed, not mandatory (a topic nobody reads yet takes events too), in
// CloudEvents binary mode, with the event's type as routing key so that
// readers can bind to patterns such as "order.*".
func (b *Driver) OpenTopic(_ context.Context, topicName string) (driver.Topic, error) {
	if topicName == "" || strings.HasPrefix(topicName, "amq.") {
		return nil, errcode.Errorf(errcode.InvalidArgument, "topic name %q is empty or starts with \"amq.\", which RabbitMQ keeps for itself", topicName)
	}
	err := b.do(topicName, "open topic", func(ch *amqp.Channel) error {
		return ch.ExchangeDeclarePassive(topicName, amqp.ExchangeTopic, true, false, false, false, nil)
	})
	if errcode.Of(err) == errcode.NotFound {
		err = b.do(topicName, "declare topic", func(ch *amqp.Channel) error {
			return ch.ExchangeDeclare(topicName, amqp.ExchangeTopic, true, false, false, false, nil)
		})
	}
	if err != nil {
		return nil, err
	}
	return &topic{b: b, channel: topicName, route: func(p *amqp.Publishing) (string, string, error) {
		typ, _ := p.Headers[headerPrefix+"type"].(string)
		return topicName, typ, nil
	}}, nil
}

var _ adapters.TopicOpener = (*Driver)(nil)

// fail wraps an AMQP error once, with the channel, the operation, and what
// to do about it.
func (b *Driver) fail(channel, op string, err error) error {
	switch code := codeOf(err); code {
	case errcode.NotFound:
		return errcode.Errorf(code, "channel %q: %s: it does not exist on RabbitMQ at %s (ensure the route's channel first): %w", channel, op, b.s.addr, err)
	case errcode.FailedPrecondition:
		return errcode.Errorf(code, "channel %q: %s: RabbitMQ at %s refused (check the user's permissions on the vhost, and that the queue was declared with this URL's options): %w", channel, op, b.s.addr, err)
	case errcode.Unavailable:
		return errcode.Errorf(code, "channel %q: %s: RabbitMQ at %s is unavailable, retry later: %w", channel, op, b.s.addr, err)
	default:
		return errcode.Errorf(code, "channel %q: %s: %w", channel, op, err)
	}
}

// codeOf classifies an error from amqp091 by AMQP reply code.
func codeOf(err error) errcode.Code {
	var e *amqp.Error
	if !errors.As(err, &e) {
		return errcode.Unavailable // the network: dial and I/O errors
	}
	switch e.Code {
	case amqp.NotFound:
		return errcode.NotFound
	case amqp.AccessRefused, amqp.PreconditionFailed, amqp.ResourceLocked, amqp.NotAllowed:
		return errcode.FailedPrecondition
	case amqp.ContentTooLarge:
		return errcode.InvalidArgument
	case amqp.ResourceError:
		return errcode.ResourceExhausted
	case amqp.SyntaxError, amqp.CommandInvalid, amqp.NotImplemented, amqp.InternalError:
		return errcode.Internal
	}
	return errcode.Unavailable // connection forced, channel and frame errors
}

// ignoreClosed drops the error of closing what is already closed.
func ignoreClosed(err error) error {
	if errors.Is(err, amqp.ErrClosed) {
		return nil
	}
	return err
}
