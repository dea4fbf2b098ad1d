package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// receiveWait is how long ReceiveBatch waits for a delivery, or for the
// connection to come back, before it returns none, as gocloud's driver
// contract asks (about a second at most).
const receiveWait = time.Second

// parkTimeout bounds how long parking early messages waits for confirms.
const parkTimeout = 5 * time.Second

// subscription consumes one channel's queue, and its lanes when ordered,
// through a consumer, replaced when its AMQP channel dies.
type subscription struct {
	adapters.DriverDefaults
	b        *Driver
	channel  string
	names    names
	prefetch int
	ordered  bool

	mu     sync.Mutex
	cons   *consumer  // nil until the first receive, and after it died
	park   *publisher // puts early messages back in a delay queue; nil until needed
	closed bool
}

var _ driver.Subscription = (*subscription)(nil)

// consumer is one AMQP channel with a consumer on the channel's queue and,
// when ordered, one on each lane. The queue's deliveries are read as
// amqp091 hands them over; the lanes' are merged into lanes, which closes
// once every lane consumer ended. Either closing means the AMQP channel
// died or the broker cancelled a consumer: the consumer is replaced.
type consumer struct {
	ch      *amqp.Channel
	mainTag string   // the consumer of the channel's queue
	tags    []string // every consumer, mainTag first
	main    <-chan amqp.Delivery
	lanes   chan amqp.Delivery // nil when the channel is not ordered

	stop     chan struct{} // closed by halt
	stopOnce sync.Once
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
		if codeOf(err) == errcode.Unavailable {
			return nil, nil // the connection dropped meanwhile
		}
		return nil, s.b.fail(s.channel, "consume", err)
	}
	s.cons = c
	return c, nil
}

// consume starts the consumers: the channel's queue with the
// subscription's prefetch, and each lane with a prefetch of one, so a lane
// hands out its next message only once the previous one is settled.
func (s *subscription) consume(conn *amqp.Connection) (*consumer, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	tagBase := "eventbus-" + hex.EncodeToString(r[:])
	c := &consumer{ch: ch, mainTag: tagBase, stop: make(chan struct{})}
	start := func(prefetch int, queue, tag string) (<-chan amqp.Delivery, error) {
		// A prefetch that is not global applies to each consumer started
		// after it on the AMQP channel.
		if err := ch.Qos(prefetch, 0, false); err != nil {
			return nil, err
		}
		src, err := ch.Consume(queue, tag, false, false, false, false, nil)
		if err != nil {
			return nil, err
		}
		c.tags = append(c.tags, tag)
		return src, nil
	}
	c.main, err = start(s.prefetch, s.names.queue, tagBase)
	if err == nil && s.ordered {
		c.lanes = make(chan amqp.Delivery)
		var forwarders sync.WaitGroup
		for i := 0; err == nil && i < s.b.opts.lanes; i++ {
			var src <-chan amqp.Delivery
			if src, err = start(1, s.names.lane(i), tagBase+"-lane-"+strconv.Itoa(i)); err == nil {
				forwarders.Go(func() { c.forwardLane(src) })
			}
		}
		go func() {
			forwarders.Wait()
			close(c.lanes)
		}()
	}
	if err != nil {
		c.halt()
		return nil, err
	}
	return c, nil
}

// forwardLane passes a lane consumer's deliveries on until they end or the
// consumer is halted. A delivery due later is held here until it is due:
// the lane waits for it anyway, and holding it on the consumer keeps it
// from every other subscriber.
func (c *consumer) forwardLane(src <-chan amqp.Delivery) {
	for d := range src {
		if wait := dueIn(d.Headers, time.Now()); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-c.stop:
				timer.Stop()
				return
			}
		}
		select {
		case c.lanes <- d:
		case <-c.stop:
			return
		}
	}
}

// halt stops the lane forwarders and closes the AMQP channel, so every
// unacked delivery goes back to its queue. It may be called more than once.
func (c *consumer) halt() {
	c.stopOnce.Do(func() {
		close(c.stop)
		_ = c.ch.Close()
	})
}

// forget drops c once its deliveries ended, so the next receive starts a
// new consumer (and learns NotFound if the queue was deleted).
func (s *subscription) forget(c *consumer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cons == c {
		s.cons = nil
	}
	c.halt()
}

// ReceiveBatch waits up to receiveWait for a delivery, then takes what else
// has arrived, up to maxMessages. Messages not due yet are parked again
// rather than returned.
func (s *subscription) ReceiveBatch(ctx context.Context, maxMessages int) ([]*driver.Message, error) {
	c, err := s.consumer(ctx)
	if c == nil {
		return nil, err
	}
	got := make([]amqp.Delivery, 0, min(maxMessages, s.prefetch))
	d, ok, ended := c.next(ctx)
	for ok {
		got = append(got, d)
		if len(got) == maxMessages {
			break
		}
		d, ok, ended = c.poll()
	}
	if ended {
		s.forget(c)
	}
	now := time.Now()
	out := make([]*driver.Message, 0, len(got))
	var early []amqp.Delivery
	for _, d := range got {
		if d.ConsumerTag == c.mainTag && dueIn(d.Headers, now) > 0 {
			early = append(early, d)
			continue
		}
		out = append(out, s.message(c, d))
	}
	if len(early) > 0 {
		s.parkAll(ctx, c, early)
	}
	return out, nil
}

// next waits up to receiveWait for a delivery. ended reports that the
// consumer's deliveries stopped: it must be replaced.
func (c *consumer) next(ctx context.Context) (d amqp.Delivery, ok, ended bool) {
	if d, ok, ended = c.poll(); ok || ended {
		return d, ok, ended
	}
	timer := time.NewTimer(receiveWait)
	defer timer.Stop()
	select {
	case d, ok = <-c.main:
	case d, ok = <-c.lanes: // never ready when nil: the channel is not ordered
	case <-ctx.Done():
		return d, false, false
	case <-timer.C:
		return d, false, false
	}
	return d, ok, !ok
}

// poll takes a delivery that is ready, without waiting.
func (c *consumer) poll() (d amqp.Delivery, ok, ended bool) {
	select {
	case d, ok = <-c.main:
	case d, ok = <-c.lanes:
	default:
		return d, false, false
	}
	return d, ok, !ok
}

// parkAll puts messages that reached the channel's queue before they were
// due (a delay queue's wait was shorter than theirs) into the delay queue
// of their next bucket, then acks them. A message that could not be parked
// is nacked: it comes back, and the queue's delivery limit bounds how often.
func (s *subscription) parkAll(ctx context.Context, c *consumer, early []amqp.Delivery) {
	ctx, cancel := context.WithTimeout(ctx, parkTimeout)
	defer cancel()
	p, err := s.parker()
	confirms := make([]*confirm, len(early))
	for i, d := range early {
		if err != nil {
			break
		}
		due := dueIn(d.Headers, time.Now())
		confirms[i], err = p.publish(ctx, "", s.names.delay(bucketFor(due)), true, reparked(d))
	}
	for i, d := range early {
		if confirms[i] != nil && confirms[i].wait(ctx) == nil {
			_ = c.ch.Ack(d.DeliveryTag, false)
		} else {
			_ = c.ch.Nack(d.DeliveryTag, false, true)
		}
	}
}

// parker returns the live publisher that parks early messages, opening
// one if there is none or the last one died.
func (s *subscription) parker() (*publisher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.park != nil && !s.park.dead() {
		return s.park, nil
	}
	conn, err := s.b.s.connection()
	if err != nil {
		return nil, err
	}
	p, err := newPublisher(conn, func(err error) error { return s.b.fail(s.channel, "park an early message", err) })
	if err != nil {
		return nil, err
	}
	s.park = p
	return p, nil
}

// reparked is a delivery as a new persistent message, without the
// broker's bookkeeping headers (x-death, x-delivery-count).
func reparked(d amqp.Delivery) amqp.Publishing {
	headers := make(amqp.Table, len(d.Headers))
	for k, v := range d.Headers {
		if !strings.HasPrefix(k, "x-") {
			headers[k] = v
		}
	}
	return amqp.Publishing{Headers: headers, ContentType: d.ContentType, DeliveryMode: amqp.Persistent, Body: d.Body}
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

// Close cancels the consumers, so the broker sends them nothing more, and
// closes their AMQP channel, so every unacked delivery goes back to its
// queue.
func (s *subscription) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.park != nil {
		_ = s.park.ch.Close()
		s.park = nil
	}
	if s.cons == nil {
		return nil
	}
	c := s.cons
	s.cons = nil
	var err error
	for _, tag := range c.tags {
		if cerr := ignoreClosed(c.ch.Cancel(tag, false)); cerr != nil && err == nil {
			err = s.b.fail(s.channel, "cancel consumer", cerr)
		}
	}
	c.halt()
	return err
}
