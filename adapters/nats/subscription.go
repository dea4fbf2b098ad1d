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
// with every other subscription of the channel. One goroutine, pull, keeps
// a pull request open for as many messages as the subscription may still
// hold (MaxInflight less those held), and hands each message to ready as
// it arrives; ReceiveBatch takes them from there. A message counts as held
// from its arrival until it is settled, so the subscription never holds
// more than MaxInflight and the others take the rest.
type subscription struct {
	adapters.DriverDefaults
	d        *Driver
	c        jetstream.Consumer
	channel  string
	prefetch int

	ready chan *driver.Message // pulled, not yet received; at most prefetch
	freed chan struct{}        // signalled when a held message is settled

	mu     sync.Mutex
	held   map[uint64]jetstream.Msg // by stream sequence
	err    error                    // of the last pull; nil once one succeeds
	closed bool

	life context.Context // ends at Close
	end  context.CancelFunc
	done sync.WaitGroup // pull and heartbeat
}

var _ driver.Subscription = (*subscription)(nil)

func newSubscription(d *Driver, c jetstream.Consumer, channel string, prefetch int) *subscription {
	s := &subscription{
		d: d, c: c, channel: channel, prefetch: prefetch,
		ready: make(chan *driver.Message, prefetch),
		freed: make(chan struct{}, 1),
		held:  map[uint64]jetstream.Msg{},
	}
	s.life, s.end = context.WithCancel(context.Background())
	s.done.Go(s.pull)
	s.done.Go(s.heartbeat)
	return s
}

// pull keeps one pull request open, for the room the subscription has,
// until Close. A failed pull is tried again after a pause that grows to a
// second; ReceiveBatch reports its error meanwhile.
func (s *subscription) pull() {
	wait := 50 * time.Millisecond
	for s.life.Err() == nil {
		n := s.room()
		if n == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(s.life, receiveWait)
		b, err := s.c.Fetch(n, jetstream.FetchContext(ctx))
		if err == nil {
			err = s.take(b)
		}
		cancel()
		if s.life.Err() != nil {
			return
		}
		if err != nil {
			s.setErr(s.receiveError(err))
			select {
			case <-time.After(wait):
			case <-s.life.Done():
			}
			wait = min(2*wait, receiveWait)
			continue
		}
		s.setErr(nil)
		wait = 50 * time.Millisecond
	}
}

// room waits until the subscription holds fewer than prefetch messages,
// or Close, and says how many more it may take.
func (s *subscription) room() int {
	for {
		s.mu.Lock()
		n := s.prefetch - len(s.held)
		s.mu.Unlock()
		if n > 0 {
			return n
		}
		select {
		case <-s.freed:
		case <-s.life.Done():
			return 0
		}
	}
}

// take holds each message of b as it arrives and hands it to ready.
func (s *subscription) take(b jetstream.MessageBatch) error {
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
		s.ready <- &driver.Message{
			LoggableID: strconv.FormatUint(seq, 10),
			Body:       m.Data(),
			Metadata:   metadataOf(m.Headers()),
			AckID:      seq,
			AsFunc:     func(any) bool { return false },
		}
	}
	return b.Error()
}

func (s *subscription) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// heartbeat tells the server, every third of the ack wait, that the
// messages held are still being worked on: a delivery the bus holds for a
// retry, or one to a slow target, stays owned by this subscription until it
// is settled, as the driver contract asks, and is not redelivered meanwhile.
func (s *subscription) heartbeat() {
	tick := time.NewTicker(s.d.opts.ackWait / 3)
	defer tick.Stop()
	for {
		select {
		case <-s.life.Done():
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

// ReceiveBatch waits up to receiveWait for a pulled message, and takes up
// to maxMessages of those ready. With none, it reports why the last pull
// failed, if it did.
func (s *subscription) ReceiveBatch(ctx context.Context, maxMessages int) ([]*driver.Message, error) {
	timer := time.NewTimer(receiveWait)
	defer timer.Stop()
	var out []*driver.Message
	select {
	case m := <-s.ready:
		out = append(out, m)
	case <-timer.C:
		s.mu.Lock()
		defer s.mu.Unlock()
		return nil, s.err
	case <-ctx.Done():
		return nil, nil
	}
	for len(out) < maxMessages {
		select {
		case m := <-s.ready:
			out = append(out, m)
		default:
			return out, nil
		}
	}
	return out, nil
}

// receiveError classifies a failed fetch. A pull request to a consumer
// that no longer exists gets no answer, or "no responders", so a failed
// fetch is checked against the consumer: gone (its stream deleted) is
// NotFound; there, or the check failing too, the server is away:
// Unavailable, which the portable layer waits out.
func (s *subscription) receiveError(err error) error {
	if codeOf(err) != errcode.NotFound {
		ctx, cancel := context.WithTimeout(s.life, receiveWait)
		defer cancel()
		_, cerr := s.d.js.Consumer(ctx, s.d.stream(s.channel), consumerName)
		if cerr != nil {
			err = cerr
		}
	}
	return s.d.wrap(err, "receive from", s.channel)
}

// settle removes the held messages ids name and returns them.
func (s *subscription) settle(ids []driver.AckID) []jetstream.Msg {
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
	for _, m := range s.settle(ids) {
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
	for _, m := range s.settle(ids) {
		if err := m.Nak(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return s.d.wrap(err, "nack on", s.channel)
	}
	return nil
}

// Close ends the pull and gives back every message still held, so another
// subscription receives it without waiting out the ack wait. Calling it
// again does nothing.
func (s *subscription) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.end()
	s.done.Wait()
	s.mu.Lock()
	held := s.held
	s.held = map[uint64]jetstream.Msg{}
	s.mu.Unlock()
	for _, m := range held {
		_ = m.Nak() // a lost one comes back after the ack wait
	}
	return nil
}
