package sqs

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// receiveWait is the long poll of one ReceiveMessage, and how long
// ReceiveBatch waits for room or for SQS to come back: about a second at
// most, as gocloud's driver contract asks.
const receiveWait = time.Second

// releaseTimeout bounds giving messages back when a subscription closes.
const releaseTimeout = 5 * time.Second

// message is one received SQS message, from its receipt until it is acked
// or given back.
type message struct {
	handle string // the receipt handle
	group  string // MessageGroupId on a FIFO queue
	body   []byte
	md     map[string]string
}

// subscription receives from one queue with long polling, at most prefetch
// messages unsettled at once, and keeps them invisible to other consumers
// while a target works: a sweep extends their visibility every third of
// the visibility timeout until they are acked, nacked, or the subscription
// closes.
//
// On a FIFO queue SQS hands out a group's messages only once the one
// before is deleted or visible again, but one receive may return several
// messages of a group. The subscription then hands out the first and
// holds the rest, in order, until it is acked; a nack gives the held ones
// back with it, so SQS delivers the group again from the nacked message.
type subscription struct {
	adapters.DriverDefaults
	b        *Driver
	channel  string
	url      string
	fifo     bool
	prefetch int

	mu       sync.Mutex
	owned    map[*message]bool     // received, not yet settled (held ones too)
	reserved int                   // room taken by receives in progress
	ready    []*message            // FIFO: held messages whose turn came
	held     map[string][]*message // FIFO group → its messages behind the one handed out
	busy     map[string]bool       // FIFO groups with a message owned
	closed   bool
	room     chan struct{} // closed and replaced when messages are settled

	stopSweep context.CancelFunc
	sweepDone chan struct{}
}

var _ driver.Subscription = (*subscription)(nil)

func newSubscription(b *Driver, channel, queueURL string, prefetch int) *subscription {
	s := &subscription{
		b: b, channel: channel, url: queueURL, fifo: b.opts.fifo, prefetch: prefetch,
		owned: map[*message]bool{}, held: map[string][]*message{}, busy: map[string]bool{},
		room: make(chan struct{}), sweepDone: make(chan struct{}),
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stopSweep = stop
	go s.sweep(ctx)
	return s
}

// ReceiveBatch hands out held messages whose turn came, or receives up to
// the room left under prefetch, waiting at most about a second.
func (s *subscription) ReceiveBatch(ctx context.Context, maxMessages int) ([]*driver.Message, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, nil
	}
	if len(s.ready) > 0 {
		n := min(maxMessages, len(s.ready))
		out := s.ready[:n]
		s.ready = s.ready[n:]
		s.mu.Unlock()
		return s.driverMessages(out), nil
	}
	n := min(maxMessages, sqsMaxBatch, s.prefetch-len(s.owned)-s.reserved)
	if n <= 0 {
		room := s.room
		s.mu.Unlock()
		wait(ctx, room)
		return nil, nil
	}
	s.reserved += n
	s.mu.Unlock()

	// The long poll is not cancelled with ctx: SQS may already have hidden
	// the messages it is about to answer with, and a cancelled request
	// would leave them hidden for the visibility timeout. It ends within
	// receiveWait anyway, and accept gives back what arrives after Close.
	pollCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), receiveWait+releaseTimeout)
	defer cancel()
	out, err := s.b.client.ReceiveMessage(pollCtx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(s.url),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(receiveWait / time.Second),
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameMessageGroupId},
	})
	s.mu.Lock()
	s.reserved -= n
	s.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil || pollCtx.Err() != nil {
			return nil, nil
		}
		if code := codeOf(err); code == errcode.Unavailable || code == errcode.ResourceExhausted {
			wait(ctx, nil) // SQS is away or throttling: try again shortly
			return nil, nil
		}
		return nil, s.b.fail(s.channel, "receive", err)
	}
	return s.driverMessages(s.accept(ctx, out.Messages)), nil
}

// wait returns when room closes, ctx ends or receiveWait passes.
func wait(ctx context.Context, room <-chan struct{}) {
	t := time.NewTimer(receiveWait)
	defer t.Stop()
	select {
	case <-room:
	case <-ctx.Done():
	case <-t.C:
	}
}

// accept takes received messages in: those not yet due are hidden until
// they are (with the rest of their FIFO group in this batch given back),
// and on a FIFO queue a group's second and later messages are held.
func (s *subscription) accept(ctx context.Context, received []types.Message) []*message {
	now := time.Now()
	var out []*message
	var hide, giveBack []visibility
	deferred := map[string]bool{} // FIFO groups whose head is not due
	s.mu.Lock()
	for _, r := range received {
		body, md := decode(aws.ToString(r.Body), r.MessageAttributes)
		m := &message{handle: aws.ToString(r.ReceiptHandle), group: r.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)], body: body, md: md}
		if s.closed || (s.fifo && deferred[m.group]) {
			giveBack = append(giveBack, visibility{m.handle, 0})
			continue
		}
		if due := adapters.DueIn(md[adapters.MetaDeliverAt], now); due > 0 {
			hide = append(hide, visibility{m.handle, min(due, sqsMaxHidden)})
			deferred[m.group] = s.fifo
			continue
		}
		s.owned[m] = true
		if s.fifo && s.busy[m.group] {
			s.held[m.group] = append(s.held[m.group], m)
			continue
		}
		s.busy[m.group] = s.fifo
		out = append(out, m)
	}
	s.mu.Unlock()
	s.changeVisibility(ctx, hide)
	// Messages that arrived after Close go back at once; the receive's ctx
	// is usually cancelled by then, so they get a context of their own.
	releaseCtx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	s.changeVisibility(releaseCtx, giveBack)
	return out
}

func (s *subscription) driverMessages(ms []*message) []*driver.Message {
	out := make([]*driver.Message, len(ms))
	for i, m := range ms {
		id := m.md["id"]
		if id == "" {
			id = "receipt " + m.handle[:min(len(m.handle), 16)]
		}
		out[i] = &driver.Message{
			LoggableID: id,
			Body:       m.body,
			Metadata:   m.md,
			AckID:      m,
			AsFunc:     func(any) bool { return false },
		}
	}
	return out
}

// SendAcks deletes the messages, ten per request. A receipt SQS no longer
// honours (the message became visible meanwhile) is skipped: SQS delivers
// that message again, which at-least-once allows.
func (s *subscription) SendAcks(ctx context.Context, ids []driver.AckID) error {
	ms := s.settle(ids, true)
	for chunk := range chunks(ms) {
		entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.handle)}
		}
		if _, err := s.b.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(s.url), Entries: entries}); err != nil && codeOf(err) == errcode.NotFound {
			return s.b.fail(s.channel, "ack", err)
		}
	}
	return nil
}

func (s *subscription) CanNack() bool { return true }

// SendNacks makes the messages visible again at once, with the messages
// held behind them in their FIFO groups.
func (s *subscription) SendNacks(ctx context.Context, ids []driver.AckID) error {
	var back []visibility
	for _, m := range s.settle(ids, false) {
		back = append(back, visibility{m.handle, 0})
	}
	s.changeVisibility(ctx, back)
	return nil
}

// settle forgets the acked or nacked messages and returns those to tell
// SQS about: on a nack, with the ones held behind them. An ack lets the
// next held message of its group take its turn.
func (s *subscription) settle(ids []driver.AckID, ack bool) []*message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*message
	for _, id := range ids {
		m := id.(*message)
		if !s.owned[m] {
			continue // given back when the subscription closed
		}
		delete(s.owned, m)
		out = append(out, m)
		held := s.held[m.group]
		switch {
		case !s.fifo:
		case ack && len(held) > 0:
			s.ready = append(s.ready, held[0])
			s.held[m.group] = held[1:]
		default:
			if !ack {
				for _, h := range held {
					delete(s.owned, h)
				}
				out = append(out, held...)
			}
			delete(s.held, m.group)
			delete(s.busy, m.group)
		}
	}
	close(s.room)
	s.room = make(chan struct{})
	return out
}

// sweep extends the visibility of every owned message until ctx ends.
func (s *subscription) sweep(ctx context.Context) {
	defer close(s.sweepDone)
	timeout := s.b.opts.visibilityTimeout
	tick := time.NewTicker(timeout / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		vs := make([]visibility, 0, len(s.owned))
		for m := range s.owned {
			vs = append(vs, visibility{m.handle, timeout})
		}
		s.mu.Unlock()
		s.changeVisibility(ctx, vs)
	}
}

// visibility is a new visibility timeout for a received message.
type visibility struct {
	handle string
	after  time.Duration
}

// changeVisibility sets the visibility of messages, ten per request. A
// failure leaves SQS's own timeout in charge, which at worst delivers a
// message again early or late: never loses it.
func (s *subscription) changeVisibility(ctx context.Context, vs []visibility) {
	for chunk := range chunks(vs) {
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, v := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id:                aws.String(strconv.Itoa(i)),
				ReceiptHandle:     aws.String(v.handle),
				VisibilityTimeout: int32((v.after + time.Second - 1) / time.Second),
			}
		}
		_, _ = s.b.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(s.url), Entries: entries})
	}
}

// chunks yields xs ten at a time, SQS's batch size.
func chunks[T any](xs []T) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(xs) > 0 {
			n := min(len(xs), sqsMaxBatch)
			if !yield(xs[:n]) {
				return
			}
			xs = xs[n:]
		}
	}
}

// Close stops the sweep and makes every message the subscription still
// owns visible again, so another subscriber receives it at once:
// at-least-once across a subscriber restart. It may be called twice.
func (s *subscription) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var back []visibility
	for m := range s.owned {
		back = append(back, visibility{m.handle, 0})
	}
	clear(s.owned)
	s.ready, s.held, s.busy = nil, map[string][]*message{}, map[string]bool{}
	s.mu.Unlock()
	s.stopSweep()
	<-s.sweepDone
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	s.changeVisibility(ctx, back)
	return nil
}
