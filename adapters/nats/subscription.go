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

// pullHeartbeat is how often the server tells an open pull request of
// unkeyed messages that it is alive: a request whose heartbeats stop (its
// consumer was deleted) ends after two of them. Such a request stays open
// until the server ends it (nats.go's default of 30 s), so no message
// crosses its end: one that the client stops waiting for at a deadline of
// its own would be lost until the ack wait brings it back.
const pullHeartbeat = time.Second

// subscription pulls from a channel's durable consumers, which it shares
// with every other subscription of the channel: the consumer of unkeyed
// messages and, when ordered, each lane's. One goroutine per consumer,
// pull, keeps a pull request open for what the subscription grants it of
// its room (MaxInflight less the messages held and those the other pulls
// may still bring; one at most for a lane), and hands each message to
// ready as it arrives; ReceiveBatch takes them from there. Room is granted
// in the order the pulls asked, so every lane gets its turn. A message
// counts as held from its arrival until it is settled, so the subscription
// never holds more than MaxInflight and the others take the rest.
type subscription struct {
	adapters.DriverDefaults
	d        *Driver
	channel  string
	prefetch int

	ready chan *driver.Message // pulled, not yet received; at most prefetch

	mu      sync.Mutex
	held    map[uint64]jetstream.Msg // by stream sequence
	asked   int                      // messages the open pull requests may still bring
	waiting []*ask                   // pulls waiting for room, in the order they asked
	err     error                    // of the last pull; nil once one succeeds
	closed  bool

	life context.Context // ends at Close
	end  context.CancelFunc
	done sync.WaitGroup // pulls and heartbeat
}

// ask is a pull waiting for room: up to most messages, granted on granted.
type ask struct {
	most    int
	granted chan int
}

var _ driver.Subscription = (*subscription)(nil)

func newSubscription(d *Driver, main jetstream.Consumer, lanes []jetstream.Consumer, channel string, prefetch int) *subscription {
	s := &subscription{
		d: d, channel: channel, prefetch: prefetch,
		ready: make(chan *driver.Message, prefetch),
		held:  map[uint64]jetstream.Msg{},
	}
	s.life, s.end = context.WithCancel(context.Background())
	// The unkeyed messages' pull leaves a message of room per lane, so an
	// idle one does not hold the lanes back while it waits.
	s.done.Go(func() { s.pull(main, max(1, prefetch-len(lanes)), 0) })
	// A lane's pull asks for one message for a second at most, and then
	// waits its turn again, so every lane gets room in turn even when
	// MaxInflight is below the number of lanes.
	for _, c := range lanes {
		s.done.Go(func() { s.pull(c, 1, receiveWait) })
	}
	s.done.Go(s.heartbeat)
	return s
}

// pull keeps one pull request open on c, for up to most messages of the
// room granted, until Close; each request lasts up to wait, or, with wait
// 0, until the server ends it. A failed pull is tried again after a pause
// that grows to a second; ReceiveBatch reports its error meanwhile.
func (s *subscription) pull(c jetstream.Consumer, most int, wait time.Duration) {
	backoff := 50 * time.Millisecond
	for {
		n := s.room(most)
		if n == 0 {
			return // closed
		}
		b, cancel, err := s.fetch(c, n, wait)
		got := 0
		if err == nil {
			got, err = s.take(b)
		}
		cancel()
		s.mu.Lock()
		s.asked -= n - got
		s.grant()
		s.mu.Unlock()
		if s.life.Err() != nil {
			return
		}
		if err != nil {
			s.setErr(s.receiveError(err))
			select {
			case <-time.After(backoff):
			case <-s.life.Done():
			}
			backoff = min(2*backoff, receiveWait)
			continue
		}
		s.setErr(nil)
		backoff = 50 * time.Millisecond
	}
}

// fetch opens a pull request on c for n messages, lasting up to wait, or
// with wait 0 until the server ends it; cancel ends it early.
func (s *subscription) fetch(c jetstream.Consumer, n int, wait time.Duration) (jetstream.MessageBatch, context.CancelFunc, error) {
	if wait > 0 {
		ctx, cancel := context.WithTimeout(s.life, wait)
		b, err := c.Fetch(n, jetstream.FetchContext(ctx))
		return b, cancel, err
	}
	ctx, cancel := context.WithCancel(s.life)
	b, err := c.Fetch(n, jetstream.FetchContext(ctx), jetstream.FetchHeartbeat(pullHeartbeat))
	return b, cancel, err
}

// room waits for its turn and for room, and reserves up to most messages
// of it for one pull request. It returns 0 once the subscription closes.
func (s *subscription) room(most int) int {
	a := &ask{most: most, granted: make(chan int, 1)}
	s.mu.Lock()
	s.waiting = append(s.waiting, a)
	s.grant()
	s.mu.Unlock()
	select {
	case n := <-a.granted:
		return n
	case <-s.life.Done():
		return 0
	}
}

// grant hands the room there is to the pulls waiting, first come first
// served; s.mu is held.
func (s *subscription) grant() {
	for len(s.waiting) > 0 {
		free := s.prefetch - len(s.held) - s.asked
		if free <= 0 {
			return
		}
		a := s.waiting[0]
		s.waiting = s.waiting[1:]
		n := min(a.most, free)
		s.asked += n
		a.granted <- n
	}
}

// take holds each message of b as it arrives, turning what its pull
// request asked for into held, and hands it to ready. It says how many
// messages came.
func (s *subscription) take(b jetstream.MessageBatch) (int, error) {
	got := 0
	for m := range b.Messages() {
		got++
		meta, err := m.Metadata()
		s.mu.Lock()
		s.asked--
		if err == nil {
			s.held[meta.Sequence.Stream] = m
		}
		s.mu.Unlock()
		if err != nil {
			_ = m.Term() // not a JetStream message: nothing to deliver
			continue
		}
		md := metadataOf(m.Headers())
		if wait := adapters.DueIn(md[adapters.MetaDeliverAt], time.Now()); wait > 0 {
			s.postpone(m, meta.Sequence.Stream, wait)
			continue
		}
		seq := meta.Sequence.Stream
		s.ready <- &driver.Message{
			LoggableID: strconv.FormatUint(seq, 10),
			Body:       m.Data(),
			Metadata:   md,
			AckID:      seq,
			AsFunc:     func(any) bool { return false },
		}
	}
	return got, b.Error()
}

// postpone gives a message that is not due yet back to the server, which
// delivers it again once wait has passed; it is no longer held meanwhile.
// On a lane (MaxAckPending 1) it holds back the lane's later messages until
// then, keeping their order. A nak lost on the way brings it back after the
// ack wait, and it is postponed again.
func (s *subscription) postpone(m jetstream.Msg, seq uint64, wait time.Duration) {
	s.mu.Lock()
	delete(s.held, seq)
	s.grant()
	s.mu.Unlock()
	_ = m.NakWithDelay(wait)
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
	s.grant()
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
