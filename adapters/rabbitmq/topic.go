package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
)

// topic publishes through a publisher, replaced when its AMQP channel
// dies: to a route's channel (OpenTopic) or to a topic other systems read
// (OpenPublisher).
type topic struct {
	b       *Backend
	channel string // the channel or topic, for errors
	// route says where a message goes: an exchange and routing key.
	route func(p *amqp.Publishing) (exchange, key string, err error)
	// mandatory publishes fail with NotFound when no queue takes them.
	mandatory bool

	mu  sync.Mutex
	pub *publisher
}

var _ driver.Topic = (*topic)(nil)

// publisher returns the live publisher, opening one on the live connection
// if the last one died.
func (t *topic) publisher() (*publisher, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pub != nil && !t.pub.dead() {
		return t.pub, nil
	}
	conn, err := t.b.s.connection()
	if err != nil {
		return nil, adapters.Errorf(adapters.Unavailable, "channel %q: publish: %w", t.channel, err)
	}
	p, err := newPublisher(conn, t.fail)
	if err != nil {
		return nil, t.fail(err)
	}
	t.pub = p
	return p, nil
}

func (t *topic) fail(err error) error { return t.b.fail(t.channel, "publish", err) }

// SendBatch publishes every message, then waits for every confirm.
func (t *topic) SendBatch(ctx context.Context, ms []*driver.Message) error {
	for _, m := range ms {
		if n := adapters.MessageBytes(m.Body, m.Metadata); n > t.b.opts.maxMessageBytes {
			return adapters.Errorf(adapters.InvalidArgument, "channel %q: message of %d bytes is over the limit of %d bytes (max_message_bytes): make the event smaller", t.channel, n, t.b.opts.maxMessageBytes)
		}
	}
	p, err := t.publisher()
	if err != nil {
		return err
	}
	confirms := make([]<-chan error, 0, len(ms))
	for _, m := range ms {
		if m.BeforeSend != nil {
			if err := m.BeforeSend(func(any) bool { return false }); err != nil {
				return err
			}
		}
		msg := toPublishing(m)
		exchange, key, err := t.route(&msg)
		if err != nil {
			return err
		}
		c, err := p.publish(ctx, exchange, key, t.mandatory, msg)
		if err != nil {
			return err
		}
		confirms = append(confirms, c)
	}
	for _, c := range confirms {
		select {
		case err := <-c:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return adapters.Errorf(adapters.Unavailable, "channel %q: no confirm from RabbitMQ at %s in time, the message may or may not be stored: %w", t.channel, t.b.s.addr, ctx.Err())
		}
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

// Close closes the AMQP channel. pubsub calls it after every Send returned.
func (t *topic) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pub == nil {
		return nil
	}
	return ignoreClosed(t.pub.ch.Close())
}

// publisher is one AMQP channel in confirm mode. Publishes are pipelined:
// each registers for its delivery tag's confirm, and one goroutine settles
// confirms and returns as the broker sends them.
type publisher struct {
	ch    *amqp.Channel
	idPre string            // message-id prefix, unique per publisher
	fail  func(error) error // wraps a broker error with the channel

	sendMu sync.Mutex // orders publishes, so tags are known before sending

	mu      sync.Mutex
	pending map[uint64]chan error
	closed  error // why the AMQP channel closed; nil while open
}

func newPublisher(conn *amqp.Connection, fail func(error) error) (*publisher, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, err
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	p := &publisher{ch: ch, idPre: hex.EncodeToString(r[:]) + "-", fail: fail, pending: map[uint64]chan error{}}
	// Returns are unbuffered on purpose: amqp091 hands a basic.return over
	// before it processes the confirm that follows it, so settle always
	// sees a message's return before its confirm.
	returns := ch.NotifyReturn(make(chan amqp.Return))
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, maxInflightPublishes))
	closes := ch.NotifyClose(make(chan *amqp.Error, 1))
	go p.settle(returns, confirms, closes)
	return p, nil
}

func (p *publisher) dead() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed != nil
}

// publish sends msg and returns where its outcome will arrive. A
// mandatory message that reaches no queue fails with NotFound.
func (p *publisher) publish(ctx context.Context, exchange, key string, mandatory bool, msg amqp.Publishing) (<-chan error, error) {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	tag := p.ch.GetNextPublishSeqNo()
	msg.MessageId = p.idPre + strconv.FormatUint(tag, 10)
	done := make(chan error, 1)
	p.mu.Lock()
	if err := p.closed; err != nil {
		p.mu.Unlock()
		return nil, err
	}
	p.pending[tag] = done
	p.mu.Unlock()
	if err := p.ch.PublishWithContext(ctx, exchange, key, mandatory, false, msg); err != nil {
		p.mu.Lock()
		delete(p.pending, tag)
		p.mu.Unlock()
		return nil, p.fail(err)
	}
	return done, nil
}

// settle delivers each confirm to its publish until the AMQP channel closes,
// then fails whatever is still unconfirmed.
func (p *publisher) settle(returns <-chan amqp.Return, confirms <-chan amqp.Confirmation, closes <-chan *amqp.Error) {
	returned := map[uint64]string{} // delivery tag → the broker's reason
	for {
		select {
		case r, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			if tag, err := strconv.ParseUint(strings.TrimPrefix(r.MessageId, p.idPre), 10, 64); err == nil {
				returned[tag] = r.ReplyText
			}
		case c, ok := <-confirms:
			if !ok {
				confirms = nil
				continue
			}
			p.confirm(c, returned)
		case e := <-closes:
			for c := range confirms { // confirms that came before the close count
				p.confirm(c, returned)
			}
			var cause error = amqp.ErrClosed
			if e != nil {
				cause = e
			}
			p.mu.Lock()
			p.closed = p.fail(cause)
			for tag, done := range p.pending {
				done <- p.closed
				delete(p.pending, tag)
			}
			p.mu.Unlock()
			return
		}
	}
}

func (p *publisher) confirm(c amqp.Confirmation, returned map[uint64]string) {
	var err error
	if reason, ok := returned[c.DeliveryTag]; ok {
		delete(returned, c.DeliveryTag)
		err = p.fail(&amqp.Error{Code: amqp.NotFound, Reason: "returned as unroutable (" + reason + "): no queue is bound to the exchange"})
	} else if !c.Ack {
		err = p.fail(&amqp.Error{Code: amqp.ResourceError, Reason: "the broker nacked the message (queue full or out of resources)"})
	}
	p.mu.Lock()
	done, ok := p.pending[c.DeliveryTag]
	delete(p.pending, c.DeliveryTag)
	p.mu.Unlock()
	if ok {
		done <- err
	}
}

// channelRoute returns where a route channel's topic sends each message: a
// message with an ordering key to its lane, one due later to the delay
// queue of its bucket, any other to the channel's exchange. A dead-letter
// channel has neither lanes nor delay queues: everything goes to its
// exchange.
func (b *Backend) channelRoute(channel string) func(p *amqp.Publishing) (string, string, error) {
	n := b.names(channel)
	if isDeadLetter(channel) {
		return func(*amqp.Publishing) (string, string, error) { return n.exchange, "", nil }
	}
	return func(p *amqp.Publishing) (string, string, error) {
		if key, _ := p.Headers[adapters.MetaOrderingKey].(string); key != "" {
			lane := n.lane(laneOf(key, b.opts.lanes))
			if err := b.ensureLane(channel, n, lane); err != nil {
				return "", "", err
			}
			return "", lane, nil
		}
		if due := dueIn(p.Headers, time.Now()); due > 0 {
			return "", n.delay(bucketFor(due)), nil
		}
		return n.exchange, "", nil
	}
}

// laneOf hashes an ordering key onto one of n lanes.
func laneOf(key string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// ensureLane declares a lane the first time this backend publishes to it;
// lanes are declared on demand so that channels without ordered events
// cost no queues.
func (b *Backend) ensureLane(channel string, n names, lane string) error {
	b.lanesMu.Lock()
	defer b.lanesMu.Unlock()
	if b.lanes[lane] {
		return nil
	}
	err := b.do(channel, "declare lane", func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclare(lane, true, false, false, false, b.laneArgs(n))
		return err
	})
	if err != nil {
		return err
	}
	b.lanes[lane] = true
	return nil
}

// forgetLanes drops what ensureLane remembers of a deleted channel.
func (b *Backend) forgetLanes(channel string) {
	b.lanesMu.Lock()
	defer b.lanesMu.Unlock()
	for _, q := range b.queues(channel) {
		delete(b.lanes, q)
	}
}
