package activemq

import (
	"context"
	"strconv"
	"sync"
	"time"

	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/activemq/stomp"
	"github.com/eventbus-go/eventbus/errcode"
)

// receiveWait is the longest ReceiveBatch waits for a message.
const receiveWait = time.Second

// subscription consumes a channel's queue on a connection of its own,
// with client-individual acks and a prefetch of MaxInflight.
//
// Messages with an ordering key are handed out one at a time per key: the
// broker gives every message of a group (JMSXGroupID) to one consumer, in
// order, and the subscription holds back a key's next message until the
// one out is acked. A nack gives the message back to this subscription,
// first in line: ActiveMQ's own NACK would move it to ActiveMQ.DLQ at once,
// and dead letters are the bus's decision. What is unacked when the
// subscription closes, or its connection drops, the broker delivers again.
type subscription struct {
	adapters.DriverDefaults
	d        *Driver
	channel  string
	prefetch int

	mu      sync.Mutex
	changed chan struct{} // closed (and replaced) when messages become ready
	conn    *stomp.Conn
	gen     uint64             // counts connections, so an ack of an old one is dropped
	ready   []*held            // messages to hand out, in order
	busy    map[string]bool    // ordering keys with a message out or ready
	waiting map[string][]*held // keyed messages behind the one out
	deleted bool
	closed  bool
}

// held is a message received from the broker; it is the AckID.
type held struct {
	f   *stomp.Frame
	gen uint64
	key string
}

var _ driver.Subscription = (*subscription)(nil)

// connect dials and subscribes; s.mu is held.
func (s *subscription) connect(ctx context.Context) error {
	c, err := s.d.dial(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	sub, err := c.Subscribe(ctx, map[string]string{
		"destination":           s.d.queue(s.channel),
		"ack":                   "client-individual",
		"activemq.prefetchSize": strconv.Itoa(s.prefetch),
	}, 2*s.prefetch+16) // room for all the broker may send, so the reader never waits
	if err != nil {
		_ = c.Close(ctx)
		return s.d.wrap(err, "subscribe to", s.channel)
	}
	s.conn = c
	s.gen++
	s.ready, s.busy, s.waiting = nil, map[string]bool{}, map[string][]*held{}
	go s.pump(c, sub)
	return nil
}

// pump files the frames of one connection in the order they came, until
// the connection ends: a key's messages must be filed in the broker's
// order, which several receivers each taking a frame could not keep.
func (s *subscription) pump(c *stomp.Conn, sub *stomp.Subscription) {
	for {
		select {
		case f := <-sub.C():
			s.mu.Lock()
			if s.conn == c {
				s.admit(f)
			}
			s.mu.Unlock()
		case <-c.Done():
			return
		}
	}
}

// admit files a frame from the broker: ready, or behind its key; s.mu is
// held.
func (s *subscription) admit(f *stomp.Frame) {
	h := &held{f: f, gen: s.gen, key: f.Headers[adapters.MetaOrderingKey]}
	switch {
	case h.key == "":
		s.ready = append(s.ready, h)
	case s.busy[h.key]:
		s.waiting[h.key] = append(s.waiting[h.key], h)
		return
	default:
		s.busy[h.key] = true
		s.ready = append(s.ready, h)
	}
	s.notify()
}

// notify wakes every receiver waiting for a ready message; s.mu is held.
func (s *subscription) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// ReceiveBatch implements driver.Subscription: what is ready, or what
// comes within receiveWait. A connection that dropped is made again here;
// until it is, the answer is Unavailable.
func (s *subscription) ReceiveBatch(ctx context.Context, max int) ([]*driver.Message, error) {
	timer := time.NewTimer(receiveWait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		switch {
		case s.deleted:
			s.mu.Unlock()
			return nil, errcode.Errorf(errcode.NotFound, "activemq: receive from %q: the channel was deleted (was its route deleted?)", s.channel)
		case s.closed:
			s.mu.Unlock()
			return nil, errcode.Errorf(errcode.FailedPrecondition, "activemq: receive from %q: the subscription is closed", s.channel)
		case s.conn == nil || s.conn.Err() != nil:
			if err := s.connect(ctx); err != nil {
				s.mu.Unlock()
				return nil, err
			}
		}
		if len(s.ready) > 0 {
			n := min(max, len(s.ready))
			out := make([]*driver.Message, n)
			for i, h := range s.ready[:n] {
				out[i] = &driver.Message{
					LoggableID: h.f.Headers["message-id"],
					Body:       h.f.Body,
					Metadata:   metadataOf(h.f.Headers),
					AckID:      h,
				}
			}
			s.ready = s.ready[n:]
			s.mu.Unlock()
			return out, nil
		}
		changed, conn := s.changed, s.conn
		s.mu.Unlock()
		select {
		case <-changed:
		case <-conn.Done():
		case <-timer.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// SendAcks implements driver.Subscription. An ack for a connection that
// has since dropped is left out: the broker delivers that message again.
func (s *subscription) SendAcks(_ context.Context, ids []driver.AckID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for _, id := range ids {
		h := id.(*held)
		if h.gen != s.gen || s.conn == nil {
			continue
		}
		if e := s.conn.Ack(h.f.Headers["ack"]); e != nil && err == nil {
			err = s.d.wrap(e, "ack on", s.channel)
		}
		s.release(h.key)
	}
	return err
}

// release lets the next message of key out once the one out was acked;
// s.mu is held.
func (s *subscription) release(key string) {
	if key == "" {
		return
	}
	next := s.waiting[key]
	if len(next) == 0 {
		delete(s.busy, key)
		return
	}
	s.ready = append(s.ready, next[0])
	if len(next) == 1 {
		delete(s.waiting, key)
	} else {
		s.waiting[key] = next[1:]
	}
	s.notify()
}

// CanNack implements driver.Subscription.
func (*subscription) CanNack() bool { return true }

// SendNacks implements driver.Subscription: each message is first in line
// again, its key still held by it.
func (s *subscription) SendNacks(_ context.Context, ids []driver.AckID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var back []*held
	for _, id := range ids {
		if h := id.(*held); h.gen == s.gen {
			back = append(back, h)
		}
	}
	if len(back) > 0 {
		s.ready = append(back, s.ready...)
		s.notify()
	}
	return nil
}

// Close implements driver.Subscription: it unsubscribes and disconnects,
// and the broker delivers again what was not acked.
func (s *subscription) Close() error {
	s.d.mu.Lock()
	delete(s.d.subs, s)
	s.d.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.hangUp(context.Background())
}

// gone ends the subscription of a deleted channel: its receives answer
// NotFound from then on.
func (s *subscription) gone(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleted = true
	_ = s.hangUp(ctx)
}

// hangUp closes the connection, so the broker takes back what it held;
// s.mu is held.
func (s *subscription) hangUp(ctx context.Context) error {
	c := s.conn
	s.conn = nil
	s.ready, s.waiting = nil, nil
	if c == nil || c.Err() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := c.Close(ctx); err != nil && c.Err() == nil {
		return s.d.wrap(err, "close the subscription of", s.channel)
	}
	return nil
}
