package adapters

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/cloudevents/sdk-go/v2/event"
	"gocloud.dev/pubsub/batcher"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/errcode"
)

// Backend is a Driver wrapped once into what the bus uses: channels to send
// to, subscriptions to receive from, and topics to publish to, each driven
// the way the driver's Capabilities.Batching declares. It is the only data
// path between the bus and a backend, the one the conformance suite tests.
type Backend struct {
	// Provisioner is the driver's, used as it is.
	Provisioner
	d    Driver
	caps Capabilities
}

// New wraps d. It fails with Internal when d's Capabilities and the
// optional interfaces it implements disagree: an ability is declared and
// implemented, or neither.
func New(d Driver) (*Backend, error) {
	caps := d.Capabilities()
	_, drops := d.(HeadDropper)
	_, topics := d.(TopicOpener)
	_, archives := d.(Archiver)
	switch {
	case caps.DropOldest != drops:
		return nil, errcode.Errorf(errcode.Internal, "backend driver %T declares DropOldest %v but implements HeadDropper %v: fix the driver", d, caps.DropOldest, drops)
	case caps.Topics != topics:
		return nil, errcode.Errorf(errcode.Internal, "backend driver %T declares Topics %v but implements TopicOpener %v: fix the driver", d, caps.Topics, topics)
	case caps.Archive != archives:
		return nil, errcode.Errorf(errcode.Internal, "backend driver %T declares Archive %v but implements Archiver %v: fix the driver", d, caps.Archive, archives)
	}
	return &Backend{Provisioner: d, d: d, caps: caps}, nil
}

// Capabilities reports what the backend guarantees.
func (b *Backend) Capabilities() Capabilities { return b.caps }

// Ping reports whether the backend is reachable now; it backs /readyz.
func (b *Backend) Ping(ctx context.Context) error { return b.d.Ping(ctx) }

// Close releases the connection. Channels, topics and subscriptions opened
// from it must be shut down first.
func (b *Backend) Close() error { return b.d.Close() }

// DropOldest discards the oldest message waiting in the channel (not one in
// flight) and reports whether there was one. A backend without
// Capabilities.DropOldest answers FailedPrecondition.
func (b *Backend) DropOldest(ctx context.Context, channel string) (bool, error) {
	hd, ok := b.d.(HeadDropper)
	if !ok {
		return false, errcode.Errorf(errcode.FailedPrecondition, "channel %q: this backend cannot drop its oldest message: use another overflow policy", channel)
	}
	return hd.DropOldest(ctx, channel)
}

// Message is one message as every backend stores it: an event in canonical
// form (EncodeEvent), plus the bus's own metadata (MetaPrefix).
type Message struct {
	Body     []byte
	Metadata map[string]string
}

// Channel sends to one route's channel: ingress's events, the dispatcher's
// retries, and, on "<route>.dlq", dead letters.
type Channel struct{ s *sender }

// OpenChannel opens the named channel for sending. The channel must exist,
// else NotFound.
func (b *Backend) OpenChannel(ctx context.Context, channel string) (*Channel, error) {
	t, err := b.d.OpenChannel(ctx, channel)
	if err != nil {
		return nil, err
	}
	return &Channel{s: newSender(t, b.caps.Batching)}, nil
}

// Send returns once the backend stored the message; with an error, it may
// or may not be stored.
func (c *Channel) Send(ctx context.Context, m *Message) error { return c.s.send(ctx, m) }

// SendEvent stores e with the bus's stamp s, as Send stores
// EncodeStamped(e, s): ingress's and replay's path, on which a driver that
// keeps messages in the process (EventSender) stores the event without the
// map in between. e is only read: the same event may be sent to several
// channels at once.
func (c *Channel) SendEvent(ctx context.Context, e *event.Event, s Stamp) error {
	return c.s.sendEvent(ctx, e, s)
}

// Shutdown waits for the Sends in progress, cutting off those still
// batched when ctx ends, and releases the channel's driver topic. Calling
// it again does nothing.
func (c *Channel) Shutdown(ctx context.Context) error { return c.s.shutdown(ctx) }

// Topic publishes to a topic other systems read, for a route whose target
// is a topic.
type Topic struct{ s *sender }

// OpenTopic opens the named topic for publishing, declaring it if missing.
// A backend without Capabilities.Topics answers FailedPrecondition.
func (b *Backend) OpenTopic(ctx context.Context, topic string) (*Topic, error) {
	to, ok := b.d.(TopicOpener)
	if !ok {
		return nil, errcode.Errorf(errcode.FailedPrecondition, "topic %q: this backend cannot publish to topics", topic)
	}
	t, err := to.OpenTopic(ctx, topic)
	if err != nil {
		return nil, err
	}
	return &Topic{s: newSender(t, b.caps.Batching)}, nil
}

// Publish returns once the backend stored the message; with an error, it
// may or may not be stored.
func (t *Topic) Publish(ctx context.Context, m *Message) error { return t.s.send(ctx, m) }

// Shutdown waits for the Publishes in progress, cutting off those still
// batched when ctx ends, and releases the topic's driver topic. Calling it
// again does nothing.
func (t *Topic) Shutdown(ctx context.Context) error { return t.s.shutdown(ctx) }

// sender sends through a driver topic: each message with its own SendBatch
// call, or gathered by a batcher where the backend declares MaxSendBatch.
type sender struct {
	t       driver.Topic
	batches *batcher.Batcher // nil: no batching
	// events is t when it stores events itself and sends are not batched;
	// nil otherwise, and SendEvent sends EncodeStamped's message.
	events EventSender
	// life bounds the batches' SendBatch calls: each caller of Add bounds
	// only its own wait, and a batch carries several callers' messages.
	life context.Context
	end  context.CancelFunc

	closed atomic.Bool
	adding sync.RWMutex // held to set closed, so no Add follows the batcher's Shutdown
	once   sync.Once
	err    error
}

func newSender(t driver.Topic, b Batching) *sender {
	s := &sender{t: t}
	s.life, s.end = context.WithCancel(context.Background())
	if b.MaxSendBatch > 1 {
		opts := &batcher.Options{MaxBatchSize: b.MaxSendBatch, MaxHandlers: max(1, b.SendHandlers)}
		s.batches = batcher.New(reflect.TypeOf(&driver.Message{}), opts, func(items any) error {
			return s.t.SendBatch(s.life, items.([]*driver.Message))
		})
	} else {
		s.events, _ = t.(EventSender)
	}
	return s
}

var errShutDown = errcode.Errorf(errcode.FailedPrecondition, "send after Shutdown: open the channel or topic again")

func (s *sender) send(ctx context.Context, m *Message) error {
	if s.closed.Load() {
		return errShutDown
	}
	if s.batches == nil {
		// The message and the batch of it in one allocation.
		one := &struct {
			m     driver.Message
			batch [1]*driver.Message
		}{m: driver.Message{Body: m.Body, Metadata: m.Metadata}}
		one.batch[0] = &one.m
		return classify(s.t.SendBatch(ctx, one.batch[:]), s.t.ErrorCode)
	}
	dm := &driver.Message{Body: m.Body, Metadata: m.Metadata}
	s.adding.RLock()
	if s.closed.Load() {
		s.adding.RUnlock()
		return errShutDown
	}
	sent := s.batches.AddNoWait(dm)
	s.adding.RUnlock()
	select {
	case err := <-sent:
		return classify(err, s.t.ErrorCode)
	case <-ctx.Done():
		return ctx.Err() // the batch may still store it: at-least-once
	}
}

func (s *sender) sendEvent(ctx context.Context, e *event.Event, st Stamp) error {
	if s.events != nil {
		if s.closed.Load() {
			return errShutDown
		}
		return classify(s.events.SendEvent(ctx, e, st), s.t.ErrorCode)
	}
	m, err := EncodeStamped(e, st)
	if err != nil {
		return err
	}
	return s.send(ctx, m)
}

func (s *sender) shutdown(ctx context.Context) error {
	s.once.Do(func() {
		s.adding.Lock()
		s.closed.Store(true)
		s.adding.Unlock()
		defer s.end()
		if s.batches != nil {
			flushed := make(chan struct{})
			go func() {
				s.batches.Shutdown()
				close(flushed)
			}()
			select {
			case <-flushed:
			case <-ctx.Done():
				s.end()
				<-flushed
			}
		}
		if err := s.t.Close(); err != nil {
			s.err = fmt.Errorf("closing a driver topic: %w", classify(err, s.t.ErrorCode))
		}
	})
	return s.err
}
