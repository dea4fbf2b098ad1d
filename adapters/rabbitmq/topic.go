package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// topic publishes through a publisher, replaced when its AMQP channel
// dies: to a route's channel (OpenChannel) or to a topic other systems
// read (OpenTopic).
type topic struct {
	adapters.DriverDefaults
	b       *Driver
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
		return nil, errcode.Errorf(errcode.Unavailable, "channel %q: publish: %w", t.channel, err)
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
			return errcode.Errorf(errcode.InvalidArgument, "channel %q: message of %d bytes is over the limit of %d bytes (max_message_bytes): make the event smaller", t.channel, n, t.b.opts.maxMessageBytes)
		}
	}
	p, err := t.publisher()
	if err != nil {
		return err
	}
	confirms := make([]*confirm, 0, len(ms))
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
		if err := c.wait(ctx); err != nil {
			if ctx.Err() != nil {
				return errcode.Errorf(errcode.Unavailable, "channel %q: no confirm from RabbitMQ at %s in time, the message may or may not be stored: %w", t.channel, t.b.s.addr, ctx.Err())
			}
			return err
		}
	}
	return nil
}

// Close closes the AMQP channel. It is called after every Send returned.
func (t *topic) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pub == nil {
		return nil
	}
	return ignoreClosed(t.pub.ch.Close())
}

// publisher is one AMQP channel in confirm mode. Publishes are pipelined:
// each waits for its own confirm, which amqp091 settles as the broker
// sends it; no goroutine of ours stands between the two.
//
// A mandatory message that reaches no queue comes back as a basic.return
// just before its confirm. amqp091 hands a return to the returns channel
// before it processes the confirm that follows, so a publish whose confirm
// has arrived finds its return in that channel or, if another publish
// drained it first, in returned: a return is never missed.
type publisher struct {
	ch    *amqp.Channel
	idPre string            // message-id prefix, unique per publisher
	fail  func(error) error // wraps a broker error with the channel
	seq   atomic.Uint64     // numbers message ids, to match returns

	returns chan amqp.Return // buffered: see returnBuffer

	mu       sync.Mutex
	returned map[uint64]string // message number → the broker's reason
	cause    error             // why the AMQP channel closed, set before closed is
	closed   chan struct{}     // closed once cause is recorded
}

// returnBuffer is how many returns may wait for their publishes to collect
// them. Returns only happen when a channel's queue was deleted behind the
// bus's back, and each publish collects every waiting return as soon as its
// confirm arrives, so the buffer fills only if that many publishes are
// returned before any of them runs. amqp091 drops a return it could not
// hand over within 5 s; a buffer this size makes that practically
// impossible.
const returnBuffer = 4096

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
	p := &publisher{ch: ch, idPre: hex.EncodeToString(r[:]) + "-", fail: fail, returned: map[uint64]string{}, closed: make(chan struct{})}
	p.returns = ch.NotifyReturn(make(chan amqp.Return, returnBuffer))
	closes := ch.NotifyClose(make(chan *amqp.Error, 1))
	go p.recordClose(closes)
	return p, nil
}

// recordClose keeps why the AMQP channel closed, for the errors of the
// publishes it cut off. It ends when the channel does.
func (p *publisher) recordClose(closes <-chan *amqp.Error) {
	var cause error = amqp.ErrClosed
	if e, ok := <-closes; ok && e != nil {
		cause = e
	}
	p.mu.Lock()
	p.cause = p.fail(cause)
	p.mu.Unlock()
	close(p.closed)
}

func (p *publisher) dead() bool { return p.ch.IsClosed() }

// closeCause returns why the AMQP channel closed. amqp091 marks a channel
// closed, then hands the broker's reason (a 404 for a deleted exchange,
// say) to NotifyClose, then fails the pending confirms; recordClose may
// not have taken the reason yet when a publish sees the closed channel, so
// this waits for it rather than reporting a bare "channel is not open",
// which would read as an outage and make a producer retry a route that no
// longer exists.
func (p *publisher) closeCause(ctx context.Context) error {
	select {
	case <-p.closed:
	case <-ctx.Done():
		return p.fail(amqp.ErrClosed)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cause
}

// publish sends msg and returns the confirm to wait for.
func (p *publisher) publish(ctx context.Context, exchange, key string, mandatory bool, msg amqp.Publishing) (*confirm, error) {
	n := p.seq.Add(1)
	msg.MessageId = p.idPre + strconv.FormatUint(n, 10)
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, mandatory, false, msg)
	if errors.Is(err, amqp.ErrClosed) {
		return nil, p.closeCause(ctx)
	}
	if err != nil {
		return nil, p.fail(err)
	}
	return &confirm{p: p, n: n, dc: dc}, nil
}

// confirm is one publish waiting for the broker's word.
type confirm struct {
	p  *publisher
	n  uint64 // the message's number
	dc *amqp.DeferredConfirmation
}

// wait returns nil once the broker stored the message. A message the
// broker returned as unroutable fails with NotFound, a nack with
// ResourceExhausted, and a channel that closed first with its cause.
func (c *confirm) wait(ctx context.Context) error {
	select {
	case <-c.dc.Done():
	case <-ctx.Done():
		go func() { // collect the return, if one comes, so it is not kept forever
			<-c.dc.Done()
			c.p.takeReturn(c.n)
		}()
		return ctx.Err()
	}
	p := c.p
	if reason, ok := p.takeReturn(c.n); ok {
		return p.fail(&amqp.Error{Code: amqp.NotFound, Reason: "returned as unroutable (" + reason + "): no queue is bound to the exchange"})
	}
	if c.dc.Acked() {
		return nil
	}
	if p.ch.IsClosed() { // amqp091 closes the channel before it fails the pending confirms
		return p.closeCause(ctx)
	}
	return p.fail(&amqp.Error{Code: amqp.ResourceError, Reason: "the broker nacked the message (queue full or out of resources)"})
}

// takeReturn collects every return waiting in the returns channel, then
// reports and forgets message n's, if it was returned.
func (p *publisher) takeReturn(n uint64) (reason string, returned bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for drained := false; !drained; {
		select {
		case r, ok := <-p.returns:
			if !ok { // the channel closed: nothing more comes
				drained = true
			} else if m, err := strconv.ParseUint(strings.TrimPrefix(r.MessageId, p.idPre), 10, 64); err == nil {
				p.returned[m] = r.ReplyText
			}
		default:
			drained = true
		}
	}
	reason, returned = p.returned[n]
	delete(p.returned, n)
	return reason, returned
}

// channelRoute returns where a route channel's topic sends each message: a
// message with an ordering key to its lane, one due later to the delay
// queue of its bucket, any other to the channel's exchange. A dead-letter
// channel has neither lanes nor delay queues: everything goes to its
// exchange.
func (b *Driver) channelRoute(channel string) func(p *amqp.Publishing) (string, string, error) {
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
func (b *Driver) ensureLane(channel string, n names, lane string) error {
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
func (b *Driver) forgetLanes(channel string) {
	b.lanesMu.Lock()
	defer b.lanesMu.Unlock()
	for _, q := range b.queues(channel) {
		delete(b.lanes, q)
	}
}
