package nats

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// receiveWait is how long ReceiveBatch waits for a message before it
// returns none, as gocloud's driver contract asks (about a second at most).
const receiveWait = time.Second

// subscription pulls from a channel's durable consumer, which it shares
// with every other subscription of the channel, holding at most prefetch
// messages unsettled.
type subscription struct {
	adapters.DriverDefaults
	d        *Driver
	c        jetstream.Consumer
	channel  string
	prefetch int

	mu     sync.Mutex
	held   map[uint64]jetstream.Msg // by stream sequence
	closed bool
	freed  chan struct{} // signalled when a held message is settled

	stop chan struct{} // closed by Close, ends the heartbeat
	done chan struct{} // closed when the heartbeat ended
}

var _ driver.Subscription = (*subscription)(nil)

func newSubscription(d *Driver, c jetstream.Consumer, channel string, prefetch int) *subscription {
	s := &subscription{
		d: d, c: c, channel: channel, prefetch: prefetch,
		held:  map[uint64]jetstream.Msg{},
		freed: make(chan struct{}, 1),
		stop:  make(chan struct{}), done: make(chan struct{}),
	}
	go s.heartbeat()
	return s
}

// heartbeat tells the server, every third of the ack wait, that the
// messages held are still being worked on: a delivery the bus holds for a
// retry, or one to a slow target, stays owned by this subscription until it
// is settled, as the driver contract asks, and is not redelivered meanwhile.
func (s *subscription) heartbeat() {
	defer close(s.done)
	tick := time.NewTicker(ackWait / 3)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		held := make([]jetstream.Msg, 0, len(s.held))
		for _, m := range s.held {
			held = append(held, m)
		}
		s.mu.Unlock()
		for _, m := range held {
			_ = m.InProgress() // a lost one costs a redelivery: at-least-once
		}
	}
}

// ReceiveBatch takes what the consumer has ready, up to what the
// subscription may still hold, without waiting; when it has nothing ready
// it waits up to receiveWait for one message.
func (s *subscription) ReceiveBatch(ctx context.Context, maxMessages int) ([]*driver.Message, error) {
	n, err := s.room(ctx)
	if n == 0 || err != nil {
		return nil, err
	}
	ms, err := s.fetch(s.c.FetchNoWait(min(n, maxMessages)))
	if len(ms) == 0 && err == nil && ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, receiveWait)
		ms, err = s.fetch(s.c.Fetch(1, jetstream.FetchContext(wctx)))
		cancel()
	}
	if err != nil && ctx.Err() == nil {
		return ms, s.receiveError(err)
	}
	return ms, nil
}

// room waits, up to receiveWait, until the subscription holds fewer than
// prefetch messages, and says how many more it may take.
func (s *subscription) room(ctx context.Context) (int, error) {
	timer := time.NewTimer(receiveWait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		n := s.prefetch - len(s.held)
		s.mu.Unlock()
		if n > 0 {
			return n, nil
		}
		select {
		case <-s.freed:
		case <-timer.C:
			return 0, nil
		case <-ctx.Done():
			return 0, nil
		}
	}
}

// fetch reads a batch into driver messages, holding each.
func (s *subscription) fetch(b jetstream.MessageBatch, err error) ([]*driver.Message, error) {
	if err != nil {
		return nil, err
	}
	var out []*driver.Message
	for m := range b.Messages() {
		meta, err := m.Metadata()
		if err != nil {
			_ = m.Term() // not a JetStream message: nothing to deliver
			continue
		}
		seq := meta.Sequence.Stream
		s.mu.Lock()
		s.held[seq] = m
		s.mu.Unlock()
		out = append(out, &driver.Message{
			LoggableID: strconv.FormatUint(seq, 10),
			Body:       m.Data(),
			Metadata:   metadataOf(m.Headers()),
			AckID:      seq,
			AsFunc:     func(any) bool { return false },
		})
	}
	return out, b.Error()
}

// receiveError classifies a failed fetch. A pull request to a consumer
// that no longer exists gets no answer, or "no responders", so a failed
// fetch is checked against the consumer: gone (its stream deleted) is
// NotFound; there, or the check failing too, the server is away:
// Unavailable, which the portable layer waits out.
func (s *subscription) receiveError(err error) error {
	if codeOf(err) != errcode.NotFound {
		ctx, cancel := context.WithTimeout(context.Background(), receiveWait)
		defer cancel()
		_, cerr := s.d.js.Consumer(ctx, s.d.stream(s.channel), consumerName)
		if cerr != nil {
			err = cerr
		}
	}
	return s.d.wrap(err, "receive from", s.channel)
}

// take removes the held messages ids name and returns them.
func (s *subscription) take(ids []driver.AckID) []jetstream.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := make([]jetstream.Msg, 0, len(ids))
	for _, id := range ids {
		seq := id.(uint64)
		if m, ok := s.held[seq]; ok {
			ms = append(ms, m)
			delete(s.held, seq)
		}
	}
	select {
	case s.freed <- struct{}{}:
	default:
	}
	return ms
}

// SendAcks acks each message; the server removes it from the work-queue
// stream. An ack lost on the way costs a redelivery: at-least-once.
func (s *subscription) SendAcks(_ context.Context, ids []driver.AckID) error {
	var errs []error
	for _, m := range s.take(ids) {
		if err := m.Ack(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return s.d.wrap(err, "ack on", s.channel)
	}
	return nil
}

// CanNack is true: the bus retries a failed delivery by nacking it.
func (s *subscription) CanNack() bool { return true }

// SendNacks gives each message back to the consumer, which delivers it
// again at once.
func (s *subscription) SendNacks(_ context.Context, ids []driver.AckID) error {
	var errs []error
	for _, m := range s.take(ids) {
		if err := m.Nak(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return s.d.wrap(err, "nack on", s.channel)
	}
	return nil
}

// Close gives back every message still held, so another subscription
// receives it without waiting out the ack wait. Calling it again does
// nothing.
func (s *subscription) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	held := s.held
	s.held = map[uint64]jetstream.Msg{}
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	for _, m := range held {
		_ = m.Nak() // a lost one comes back after the ack wait
	}
	return nil
}
