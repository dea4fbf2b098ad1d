package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// receiveWait is how long ReceiveBatch waits for a message before it
// returns none, as gocloud's driver contract asks (about a second at most).
const receiveWait = time.Second

// pullWait is how long the server keeps a pull request open. It bounds how
// long Close waits for the subscription's last requests to end, and how
// long a lane holds room it does not use. A request the server says nothing
// of for twice as long is given up: its consumer was deleted, or the server
// restarted and forgot it.
const pullWait = time.Second

// subscription pulls from a channel's durable consumers, which it shares
// with every other subscription of the channel: the consumer of unkeyed
// messages and, when ordered, each lane's. One goroutine per consumer,
// pull, keeps a pull request open for what the subscription grants it of
// its room (MaxInflight less the messages held and those the open pull
// requests may still bring; one at most for a lane). Room is granted in
// the order the pulls asked, so every lane gets its turn. A message counts
// as held from its arrival until it is settled, so the subscription never
// holds more than MaxInflight and the others take the rest.
//
// The pull requests are its own, answered on an inbox it subscribes to for
// its whole life, rather than nats.go's Fetch, which stops listening at a
// deadline or cancellation of its own and drops what the server sends
// after that: the server counts such a message as delivered, and it comes
// back only after the ack wait. Here only the server ends a request, by
// sending all it asked for or a status, and deliver sees every message
// sent to the inbox; Close waits for the open requests to end before it
// unsubscribes, giving back whatever they bring meanwhile.
type subscription struct {
	adapters.DriverDefaults
	d        *Driver
	channel  string
	prefetch int

	inbox string             // reply subjects of the pull requests are inbox.N
	sub   *nats.Subscription // on inbox.*, until Close

	ready chan *driver.Message // pulled, not yet received; at most prefetch

	mu       sync.Mutex
	held     map[uint64]*nats.Msg // by stream sequence
	asked    int                  // messages the open pull requests may still bring
	waiting  []*ask               // pulls waiting for room, in the order they asked
	requests map[string]*request  // the open pull request of each consumer, by its name
	sent     uint64               // pull requests sent, which numbers their reply subjects
	err      error                // of the last pull; nil once one succeeds
	closed   bool

	life context.Context // ends at Close
	end  context.CancelFunc
	done sync.WaitGroup // pulls and heartbeat
}

// ask is a pull waiting for room: up to most messages, granted on granted.
type ask struct {
	most    int
	granted chan int
}

// request is an open pull request, answered on reply: it may still bring
// open messages.
type request struct {
	reply string
	open  int
	heard time.Time  // when it was sent, or the server last sent something for it
	ended chan error // the server ended it: nil, or why it refused it
}

// pullRequest is the body of a JetStream pull request; Expires is in
// nanoseconds.
type pullRequest struct {
	Batch   int           `json:"batch"`
	Expires time.Duration `json:"expires"`
}

var _ driver.Subscription = (*subscription)(nil)

// newSubscription subscribes to a fresh inbox and starts pulling from the
// consumer main, of unkeyed messages, and from the consumers lanes.
func newSubscription(d *Driver, main string, lanes []string, channel string, prefetch int) (*subscription, error) {
	s := &subscription{
		d: d, channel: channel, prefetch: prefetch,
		inbox:    d.nc.NewInbox(),
		ready:    make(chan *driver.Message, prefetch),
		held:     map[uint64]*nats.Msg{},
		requests: map[string]*request{},
	}
	sub, err := d.nc.Subscribe(s.inbox+".*", s.deliver)
	if err != nil {
		return nil, d.wrap(err, "subscribe to", channel)
	}
	// What the inbox queues is bounded by the pull requests, not by a
	// client limit that would drop messages the server counts as delivered.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return nil, d.wrap(err, "subscribe to", channel)
	}
	s.sub = sub
	s.life, s.end = context.WithCancel(context.Background())
	// The unkeyed messages' pull leaves a message of room per lane, so an
	// idle one does not hold the lanes back while it waits.
	s.done.Go(func() { s.pull(main, max(1, prefetch-len(lanes))) })
	// A lane's pull asks for one message at a time, and waits its turn
	// again once its request ends, so every lane gets room in turn even
	// when MaxInflight is below the number of lanes.
	for _, c := range lanes {
		s.done.Go(func() { s.pull(c, 1) })
	}
	s.done.Go(s.heartbeat)
	return s, nil
}

// pull keeps one pull request open on consumer, for up to most messages of
// the room granted, until Close. A failed pull is tried again after a
// pause that grows to a second; ReceiveBatch reports its error meanwhile.
func (s *subscription) pull(consumer string, most int) {
	subject := jetstream.DefaultAPIPrefix + "CONSUMER.MSG.NEXT." + s.d.stream(s.channel) + "." + consumer
	backoff := 50 * time.Millisecond
	for {
		n := s.room(most)
		if n == 0 {
			return // closed
		}
		err := s.request(consumer, subject, n)
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

// request sends consumer's pull request, to subject, for the n messages of
// room reserved, lasting pullWait, and waits until it ends: the server
// sent all it asked for, or a status ending it, or has said nothing of it
// for twice its lifetime. It waits even once the subscription closes, so
// that nothing is sent to the inbox after Close unsubscribes. The room the
// request did not bring goes back to the pulls.
func (s *subscription) request(consumer, subject string, n int) error {
	body, err := json.Marshal(pullRequest{Batch: n, Expires: pullWait})
	if err != nil {
		return err
	}
	r := &request{open: n, heard: time.Now(), ended: make(chan error, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil // room granted as Close began
	}
	s.sent++
	r.reply = s.inbox + "." + strconv.FormatUint(s.sent, 10)
	s.requests[consumer] = r
	s.mu.Unlock()
	if err := s.d.nc.PublishRequest(subject, r.reply, body); err != nil {
		s.forget(consumer, r)
		return err
	}
	const silence = 2 * pullWait
	timer := time.NewTimer(silence)
	defer timer.Stop()
	for {
		select {
		case err := <-r.ended:
			return err
		case <-timer.C:
		}
		s.mu.Lock()
		quiet := time.Since(r.heard)
		s.mu.Unlock()
		if quiet >= silence {
			s.forget(consumer, r)
			return errcode.Errorf(errcode.Unavailable, "the server said nothing of a pull request for %v", silence)
		}
		timer.Reset(silence - quiet)
	}
}

// forget ends consumer's pull request r on the subscription's side, if
// the server has not ended it already: what it did not bring goes back to
// the pulls, and a message it brings later is given back.
func (s *subscription) forget(consumer string, r *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endRequest(consumer, r, nil)
}

// endRequest ends consumer's pull request r, giving the room it did not
// bring back to the pulls, and tells its pull why (err); s.mu is held.
func (s *subscription) endRequest(consumer string, r *request, err error) {
	if s.requests[consumer] != r {
		return
	}
	delete(s.requests, consumer)
	s.asked -= r.open
	r.open = 0
	r.ended <- err
	s.grant()
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

// deliver takes what the server sends to the inbox. A message counts
// against the open pull request of the consumer it comes from; it is held
// and handed to ready, or postponed if it is not due. It is given back at
// once if the subscription is closing, or if no request of its consumer is
// open (it was sent to one given up), so that it is redelivered now rather
// than after the ack wait. A status message, sent to its request's own
// reply subject, ends the request.
func (s *subscription) deliver(m *nats.Msg) {
	if m.Reply == "" {
		s.status(m)
		return
	}
	meta, err := m.Metadata()
	if err != nil {
		return // not a JetStream message: nothing to deliver or give back
	}
	seq := meta.Sequence.Stream
	s.mu.Lock()
	r := s.requests[meta.Consumer]
	keep := r != nil && !s.closed
	// A message held already came again (its ack wait ran out while it
	// was held): this copy's reply settles it, and the copy handed out
	// before stands for both.
	_, again := s.held[seq]
	if keep {
		s.held[seq] = m // before the request's end grants room again
	}
	if r != nil {
		r.heard = time.Now()
		r.open--
		s.asked--
		if r.open == 0 {
			s.endRequest(meta.Consumer, r, nil)
		}
	}
	s.mu.Unlock()
	if !keep {
		_ = m.Nak() // a lost one comes back after the ack wait
		return
	}
	if again {
		return
	}
	md := metadataOf(m.Header)
	if wait := adapters.DueIn(md[adapters.MetaDeliverAt], time.Now()); wait > 0 {
		s.postpone(m, seq, wait)
		return
	}
	// ready holds only messages held, at most prefetch, so this does not
	// wait; should it, Close ends the wait (and naks what is held).
	select {
	case s.ready <- &driver.Message{
		LoggableID: strconv.FormatUint(seq, 10),
		Body:       m.Data,
		Metadata:   md,
		AckID:      seq,
		AsFunc:     func(any) bool { return false },
	}:
	case <-s.life.Done():
	}
}

// status reads a status message the server sent to the reply subject of
// an open pull request: the end of its lifetime (408) or of what there was
// (404) ends it; anything else ends it with an error. A status of a
// request that has ended already is ignored.
func (s *subscription) status(m *nats.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for consumer, r := range s.requests {
		if r.reply != m.Subject {
			continue
		}
		code, desc := m.Header.Get("Status"), m.Header.Get("Description")
		var err error
		switch code {
		case "404", "408":
		case "503":
			err = nats.ErrNoResponders
		case "409":
			if strings.EqualFold(desc, "consumer deleted") {
				err = jetstream.ErrConsumerDeleted
				break
			}
			// Leadership change, server shutdown, too many requests
			// waiting: the next pull asks again.
			err = errcode.Errorf(errcode.Unavailable, "the server ended a pull request: %s %s", code, desc)
		default:
			err = fmt.Errorf("the server refused a pull request: %s %s", code, desc)
		}
		s.endRequest(consumer, r, err)
		return
	}
}

// postpone gives a message that is not due yet back to the server, which
// delivers it again once wait has passed; it is no longer held meanwhile.
// On a lane (MaxAckPending 1) it holds back the lane's later messages until
// then, keeping their order. A nak lost on the way brings it back after the
// ack wait, and it is postponed again.
func (s *subscription) postpone(m *nats.Msg, seq uint64, wait time.Duration) {
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
		held := make([]*nats.Msg, 0, len(s.held))
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
	var out []*driver.Message
	select {
	case m := <-s.ready: // a busy channel's case: no timer to make
		out = append(out, m)
	default:
		m, err := s.await(ctx)
		if m == nil {
			return nil, err
		}
		out = append(out, m)
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

// await waits up to receiveWait for a pulled message: none, and the last
// pull's error, when none came.
func (s *subscription) await(ctx context.Context) (*driver.Message, error) {
	timer := time.NewTimer(receiveWait)
	defer timer.Stop()
	select {
	case m := <-s.ready:
		return m, nil
	case <-timer.C:
		s.mu.Lock()
		defer s.mu.Unlock()
		return nil, s.err
	case <-ctx.Done():
		return nil, nil
	}
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
func (s *subscription) settle(ids []driver.AckID) []*nats.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := make([]*nats.Msg, 0, len(ids))
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

// Close stops pulling and gives back every message still held. It waits
// for the server to end the subscription's open pull requests, giving back
// what they bring meanwhile, before it unsubscribes from their inbox, so
// every message the server sent to the subscription can be received by
// another at once, without waiting out the ack wait. Calling it again does
// nothing.
func (s *subscription) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	held := s.held
	s.held = map[uint64]*nats.Msg{}
	s.mu.Unlock()
	s.end()
	for _, m := range held {
		_ = m.Nak() // a lost one comes back after the ack wait
	}
	s.done.Wait()
	_ = s.sub.Unsubscribe() // fails only once the connection is closed
	return nil
}
