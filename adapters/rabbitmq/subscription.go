package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
)

// receiveWait is how long ReceiveBatch waits for a delivery, or for the
// connection to come back, before it returns none, as gocloud's driver
// contract asks (about a second at most).
const receiveWait = time.Second

// subscription consumes one channel's queue through a consumer, replaced
// when its AMQP channel dies.
type subscription struct {
	b        *Backend
	channel  string
	queue    string
	prefetch int

	mu     sync.Mutex
	cons   *consumer // nil until the first receive, and after it died
	closed bool
}

var _ driver.Subscription = (*subscription)(nil)

// consumer is one AMQP channel with one consumer on it. Its deliveries
// channel closes when the AMQP channel dies or the consumer is cancelled.
type consumer struct {
	ch         *amqp.Channel
	tag        string
	deliveries <-chan amqp.Delivery
}

// ackID names a delivery on the AMQP channel it came from: delivery tags
// mean nothing on any other channel.
type ackID struct {
	c   *consumer
	tag uint64
}

// consumer returns the live consumer, starting one if there is none. It
// returns nil, nil while the broker is away: the caller tries again later.
func (s *subscription) consumer(ctx context.Context) (*consumer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil
	}
	if s.cons != nil {
		return s.cons, nil
	}
	wctx, cancel := context.WithTimeout(ctx, receiveWait)
	defer cancel()
	conn := s.b.s.await(wctx)
	if conn == nil {
		return nil, nil
	}
	c, err := s.consume(conn)
	if err != nil {
		if codeOf(err) == adapters.Unavailable {
			return nil, nil // the connection dropped meanwhile
		}
		return nil, s.b.fail(s.channel, "consume", err)
	}
	s.cons = c
	return c, nil
}

func (s *subscription) consume(conn *amqp.Connection) (*consumer, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Qos(s.prefetch, 0, false); err != nil {
		_ = ch.Close()
		return nil, err
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	tag := "eventbus-" + hex.EncodeToString(r[:])
	deliveries, err := ch.Consume(s.queue, tag, false, false, false, false, nil)
	if err != nil {
		_ = ch.Close()
		return nil, err
	}
	return &consumer{ch: ch, tag: tag, deliveries: deliveries}, nil
}

// forget drops c once its deliveries ended, so the next receive starts a
// new consumer (and learns NotFound if the queue was deleted).
func (s *subscription) forget(c *consumer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cons == c {
		s.cons = nil
	}
	_ = c.ch.Close()
}

// ReceiveBatch waits up to receiveWait for a delivery, then takes what else
// has arrived, up to maxMessages.
func (s *subscription) ReceiveBatch(ctx context.Context, maxMessages int) ([]*driver.Message, error) {
	c, err := s.consumer(ctx)
	if c == nil {
		return nil, err
	}
	timer := time.NewTimer(receiveWait)
	defer timer.Stop()
	var out []*driver.Message
	select {
	case d, ok := <-c.deliveries:
		if !ok {
			s.forget(c)
			return nil, nil
		}
		out = append(out, s.message(c, d))
	case <-ctx.Done():
		return nil, nil
	case <-timer.C:
		return nil, nil
	}
	for len(out) < maxMessages {
		select {
		case d, ok := <-c.deliveries:
			if !ok {
				s.forget(c)
				return out, nil
			}
			out = append(out, s.message(c, d))
		default:
			return out, nil
		}
	}
	return out, nil
}

func (s *subscription) message(c *consumer, d amqp.Delivery) *driver.Message {
	md := metadataOf(d)
	id := md["id"]
	if id == "" {
		id = "delivery " + strconv.FormatUint(d.DeliveryTag, 10)
	}
	return &driver.Message{
		LoggableID: id,
		Body:       d.Body,
		Metadata:   md,
		AckID:      ackID{c: c, tag: d.DeliveryTag},
		AsFunc:     func(any) bool { return false },
	}
}

// SendAcks acks on the channel each delivery came from. An ack that
// cannot be sent means that channel died and took its deliveries with it:
// the broker redelivers them, which at-least-once allows, so the error is
// dropped rather than failing the subscription. Nothing is ever acked on a
// channel other than the delivery's own, where its tag would name another
// message.
func (s *subscription) SendAcks(_ context.Context, ids []driver.AckID) error {
	for _, id := range ids {
		a := id.(ackID)
		_ = a.c.ch.Ack(a.tag, false)
	}
	return nil
}

func (s *subscription) CanNack() bool { return true }

// SendNacks requeues the deliveries, on their own channels as SendAcks
// does. The queue's x-delivery-limit bounds how often a message comes back
// before it is dead-lettered.
func (s *subscription) SendNacks(_ context.Context, ids []driver.AckID) error {
	for _, id := range ids {
		a := id.(ackID)
		_ = a.c.ch.Nack(a.tag, false, true)
	}
	return nil
}

// Close cancels the consumer, so the broker sends it nothing more, and
// closes its AMQP channel, so every unacked delivery goes back to the queue.
func (s *subscription) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.cons == nil {
		return nil
	}
	c := s.cons
	s.cons = nil
	if err := ignoreClosed(c.ch.Cancel(c.tag, false)); err != nil {
		_ = c.ch.Close()
		return s.b.fail(s.channel, "cancel consumer", err)
	}
	return ignoreClosed(c.ch.Close())
}

func (*subscription) IsRetryable(error) bool                 { return false }
func (*subscription) As(any) bool                            { return false }
func (*subscription) ErrorAs(error, any) bool                { return false }
func (*subscription) ErrorCode(err error) gcerrors.ErrorCode { return adapters.GCErrorCode(err) }
