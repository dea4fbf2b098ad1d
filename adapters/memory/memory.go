package memory

import (
	"context"
	"net/url"
	"strconv"
	"sync"
	"time"

	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/batcher"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
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
func Open(_ context.Context, u *url.URL) (adapters.Backend, error) {
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
func New(opts Options) *Backend {
	if opts.MaxDepth == 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxMessageBytes == 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	return &Backend{opts: opts, channels: map[string]*channel{}}
}

// Backend holds the channels of one mem:// URL.
type Backend struct {
	opts Options

	mu       sync.Mutex
	channels map[string]*channel
	closed   bool
}

var _ adapters.Backend = (*Backend)(nil)

// Capabilities implements adapters.Backend.
func (b *Backend) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{Durable: false, MaxMessageBytes: b.opts.MaxMessageBytes, Delay: true, Ordering: true}
}

// Ping implements adapters.Backend: the backend is up until it is closed.
func (b *Backend) Ping(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errClosed
	}
	return nil
}

// Close implements adapters.Backend. Messages still stored are discarded.
func (b *Backend) Close() error {
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

func (b *Backend) channel(name string) (*channel, error) {
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
func (b *Backend) EnsureChannel(_ context.Context, name string) error {
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
func (b *Backend) DeleteChannel(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch, ok := b.channels[name]; ok {
		ch.remove()
		delete(b.channels, name)
	}
	return nil
}

// Depth implements adapters.Provisioner.
func (b *Backend) Depth(_ context.Context, name string) (int64, error) {
	ch, err := b.channel(name)
	if err != nil {
		return 0, err
	}
	return int64(ch.depth()), nil
}

// Purge implements adapters.Provisioner. Messages in flight stay.
func (b *Backend) Purge(_ context.Context, name string) error {
	ch, err := b.channel(name)
	if err != nil {
		return err
	}
	ch.purge()
	return nil
}

// DropOldest implements adapters.HeadDropper.
func (b *Backend) DropOldest(_ context.Context, name string) (bool, error) {
	ch, err := b.channel(name)
	if err != nil {
		return false, err
	}
	return ch.dropOldest(), nil
}

var _ adapters.HeadDropper = (*Backend)(nil)

// OpenSender implements adapters.Sender.
func (b *Backend) OpenSender(_ context.Context, name string) (driver.Topic, error) {
	ch, err := b.channel(name)
	if err != nil {
		return nil, err
	}
	return &topic{ch: ch}, nil
}

var _ adapters.Sender = (*Backend)(nil)

// OpenTopic implements adapters.Channels.
func (b *Backend) OpenTopic(_ context.Context, name string) (*pubsub.Topic, error) {
	ch, err := b.channel(name)
	if err != nil {
		return nil, err
	}
	// Unbounded batches: one SendBatch stores everything queued while the
	// previous one ran, under a single lock.
	return pubsub.NewTopic(&topic{ch: ch}, &batcher.Options{MaxHandlers: 1}), nil
}

// OpenSubscription implements adapters.Channels.
func (b *Backend) OpenSubscription(ctx context.Context, name string, opts adapters.SubscriptionOptions) (*pubsub.Subscription, error) {
	s, err := b.OpenReceiver(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	batch := opts.MaxInflight
	if batch <= 0 {
		batch = 16
	}
	return pubsub.NewSubscription(s, &batcher.Options{MaxBatchSize: batch, MaxHandlers: 1}, nil), nil
}

// OpenReceiver implements adapters.Receiver: the driver subscription behind
// OpenSubscription.
func (b *Backend) OpenReceiver(_ context.Context, name string, opts adapters.SubscriptionOptions) (driver.Subscription, error) {
	ch, err := b.channel(name)
	if err != nil {
		return nil, err
	}
	prefetch := opts.MaxInflight
	if prefetch <= 0 {
		prefetch = 16
	}
	s := &subscription{ch: ch, prefetch: prefetch}
	return s, nil
}

var _ adapters.Receiver = (*Backend)(nil)

type topic struct{ ch *channel }

var _ driver.Topic = (*topic)(nil)

func (t *topic) SendBatch(_ context.Context, ms []*driver.Message) error {
	if err := t.ch.publish(ms); err != nil {
		return err
	}
	for _, m := range ms {
		if m.AfterSend != nil {
			if err := m.AfterSend(func(any) bool { return false }); err != nil {
				return err
			}
		}
	}
	return nil
}

// IsRetryable is false: the bus, not the driver, decides about retries.
func (*topic) IsRetryable(error) bool                 { return false }
func (*topic) As(any) bool                            { return false }
func (*topic) ErrorAs(error, any) bool                { return false }
func (*topic) ErrorCode(err error) gcerrors.ErrorCode { return adapters.GCErrorCode(err) }
func (*topic) Close() error                           { return nil }

type subscription struct {
	ch       *channel
	prefetch int  // most messages this subscription holds unacked
	owned    int  // guarded by ch.mu
	closed   bool // guarded by ch.mu; a closed subscription takes nothing
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
			Body:       m.body,
			Metadata:   unpackMetadata(m.md),
			AckID:      m.id,
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

func (*subscription) IsRetryable(error) bool                 { return false }
func (*subscription) As(any) bool                            { return false }
func (*subscription) ErrorAs(error, any) bool                { return false }
func (*subscription) ErrorCode(err error) gcerrors.ErrorCode { return adapters.GCErrorCode(err) }
