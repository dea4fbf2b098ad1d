package memory

import (
	"context"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/internal/wakeup"
	"github.com/eventbus-go/eventbus/errcode"
)

// Scheme is the URL scheme of this backend.
const Scheme = "mem"

// Defaults for the URL options.
const (
	DefaultMaxDepth        = 100_000
	DefaultMaxBytes        = 64 << 20
	DefaultMaxMessageBytes = 4 << 20
)

// receiveWait is how long ReceiveBatch waits for a message before it returns
// none, as gocloud's driver contract asks (about a second at most).
const receiveWait = time.Second

// Options bound every channel of a backend. Zero fields mean the defaults.
type Options struct {
	MaxDepth        int
	MaxBytes        int
	MaxMessageBytes int
}

// Open is the adapters.Opener for mem:// URLs.
func Open(_ context.Context, u *url.URL) (adapters.Driver, error) {
	var opts Options
	for key, vals := range u.Query() {
		n, err := strconv.Atoi(vals[0])
		if err != nil || n <= 0 {
			return nil, errcode.Errorf(errcode.InvalidArgument, "mem:// option %s=%q must be a positive integer", key, vals[0])
		}
		switch key {
		case "max_depth":
			opts.MaxDepth = n
		case "max_bytes":
			opts.MaxBytes = n
		case "max_message_bytes":
			opts.MaxMessageBytes = n
		default:
			return nil, errcode.Errorf(errcode.InvalidArgument, "mem:// has no option %q (known: max_depth, max_bytes, max_message_bytes)", key)
		}
	}
	return New(opts), nil
}

// New returns an empty in-memory backend.
func New(opts Options) *Driver {
	if opts.MaxDepth == 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxMessageBytes == 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	return &Driver{opts: opts, channels: map[string]*channel{}}
}

// Driver holds the channels of one mem:// URL.
type Driver struct {
	opts Options

	mu       sync.Mutex
	channels map[string]*channel
	closed   bool
}

var _ adapters.Driver = (*Driver)(nil)

// Capabilities implements adapters.Driver.
func (b *Driver) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{Durable: false, MaxMessageBytes: b.opts.MaxMessageBytes, Delay: true, Ordering: true, DropOldest: true, Local: true,
		Batching: adapters.Batching{QueuedAcks: true}}
}

// Ping implements adapters.Driver: the backend is up until it is closed.
func (b *Driver) Ping(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errClosed
	}
	return nil
}

// Close implements adapters.Driver. Messages still stored are discarded,
// and the memory their channels hold off Go's heap is freed: a Driver
// dropped without Close keeps it until the process ends.
func (b *Driver) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for name, ch := range b.channels {
		ch.remove()
		delete(b.channels, name)
	}
	return nil
}

var errClosed = errcode.Errorf(errcode.FailedPrecondition, "in-memory backend is closed")

func (b *Driver) channel(name string) (*channel, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	ch, ok := b.channels[name]
	if !ok {
		return nil, errcode.Errorf(errcode.NotFound, "channel %q does not exist", name)
	}
	return ch, nil
}

// EnsureChannel implements adapters.Provisioner.
func (b *Driver) EnsureChannel(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errClosed
	}
	if _, ok := b.channels[name]; !ok {
		b.channels[name] = newChannel(name, b.opts)
	}
	return nil
}

// DeleteChannel implements adapters.Provisioner. Subscriptions on the
// channel fail with NotFound from then on.
func (b *Driver) DeleteChannel(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch, ok := b.channels[name]; ok {
		ch.remove()
		delete(b.channels, name)
	}
	return nil
}

// Depth implements adapters.Provisioner.
func (b *Driver) Depth(_ context.Context, name string) (int64, error) {
	ch, err := b.channel(name)
	if err != nil {
		return 0, err
	}
	return int64(ch.depth()), nil
}

// Purge implements adapters.Provisioner. Messages in flight stay.
func (b *Driver) Purge(_ context.Context, name string) error {
	ch, err := b.channel(name)
	if err != nil {
		return err
	}
	ch.purge()
	return nil
}

// DropOldest implements adapters.HeadDropper.
func (b *Driver) DropOldest(_ context.Context, name string) (bool, error) {
	ch, err := b.channel(name)
	if err != nil {
		return false, err
	}
	return ch.dropOldest(), nil
}

var _ adapters.HeadDropper = (*Driver)(nil)

// OpenChannel implements adapters.Driver.
func (b *Driver) OpenChannel(_ context.Context, name string) (driver.Topic, error) {
	ch, err := b.channel(name)
	if err != nil {
		return nil, err
	}
	return &topic{ch: ch}, nil
}

// OpenSubscription implements adapters.Driver.
func (b *Driver) OpenSubscription(_ context.Context, name string, opts adapters.SubscriptionOptions) (driver.Subscription, error) {
	ch, err := b.channel(name)
	if err != nil {
		return nil, err
	}
	s := &subscription{ch: ch, prefetch: opts.MaxInflight}
	ch.open(s)
	return s, nil
}

type topic struct {
	adapters.DriverDefaults
	ch *channel
}

var (
	_ driver.Topic         = (*topic)(nil)
	_ adapters.EventSender = (*topic)(nil)
)

func (t *topic) SendBatch(_ context.Context, ms []*driver.Message) error {
	return t.ch.publish(ms)
}

// SendEvent stores e packed from its fields: the canonical map that
// SendBatch is given would only be flattened again.
func (t *topic) SendEvent(_ context.Context, e *event.Event, s adapters.Stamp) error {
	return t.ch.publishEvent(e, s)
}

func (*topic) Close() error { return nil }

type subscription struct {
	adapters.DriverDefaults
	ch       *channel
	prefetch int  // most messages this subscription holds unacked
	owned    int  // guarded by ch.mu
	closed   bool // guarded by ch.mu; a closed subscription takes nothing
	// roomFreed wakes this subscription's receivers that wait for an ack
	// to bring it below its prefetch; guarded by ch.mu.
	roomFreed wakeup.Signal
}

var _ driver.Subscription = (*subscription)(nil)

// ReceiveBatch waits until a message is ready and this subscription is below
// its prefetch, for at most receiveWait.
func (s *subscription) ReceiveBatch(ctx context.Context, maxMessages int) ([]*driver.Message, error) {
	taken, err := s.ch.take(ctx, s, maxMessages, receiveWait)
	if err != nil || len(taken) == 0 {
		return nil, err
	}
	out := make([]*driver.Message, len(taken))
	for i, m := range taken {
		out[i] = &driver.Message{
			LoggableID: strconv.FormatUint(m.id, 10),
			Body:       m.body(),
			Metadata:   m.metadata(),
			AckID:      m, // a pointer: an id would be boxed, an allocation per message
			AsFunc:     func(any) bool { return false },
		}
	}
	return out, nil
}

func (s *subscription) SendAcks(_ context.Context, ids []driver.AckID) error {
	s.ch.settle(s, ids, false)
	return nil
}

func (s *subscription) CanNack() bool { return true }

// SendNacks gives the messages back at the head of the channel, in order.
func (s *subscription) SendNacks(_ context.Context, ids []driver.AckID) error {
	s.ch.settle(s, ids, true)
	return nil
}

// Close gives back every message the subscription still owns, so another
// subscriber receives it: at-least-once across a subscriber restart.
func (s *subscription) Close() error {
	s.ch.release(s)
	return nil
}
