package adapters

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"gocloud.dev/pubsub/batcher"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/errcode"
)

// Subscription receives from one channel, one message per Receive or
// several per ReceiveUpTo, for several goroutines at once.
type Subscription struct {
	d     driver.Subscription
	batch int // the fewest messages asked of the driver per receive
	// perReceive is the most messages one receive of the driver returns;
	// 0: as many as it is asked for.
	perReceive int
	acks       *batcher.Batcher // nil: each Ack is sent at once
	// settleWithin bounds each ack and nack sent; 0 on a local backend,
	// whose settles wait on nothing.
	settleWithin time.Duration

	// life ends at Shutdown: a Receive waiting out an error returns at
	// once, one in the driver when the driver's wait ends.
	life context.Context
	end  context.CancelFunc

	mu        sync.Mutex
	extra     []*driver.Message // received beyond what a Receive took
	receiving sync.WaitGroup    // driver receives under way
	closed    bool
	closeErr  error
}

// OpenSubscription opens the named channel for receiving. The channel must
// exist, else NotFound.
func (b *Backend) OpenSubscription(ctx context.Context, channel string, opts SubscriptionOptions) (*Subscription, error) {
	bt := b.caps.Batching
	if opts.MaxInflight <= 0 {
		opts.MaxInflight = bt.MaxInflight
	}
	if opts.MaxInflight <= 0 {
		opts.MaxInflight = defaultMaxInflight
	}
	d, err := b.d.OpenSubscription(ctx, channel, opts)
	if err != nil {
		return nil, err
	}
	if !d.CanNack() {
		_ = d.Close()
		return nil, errcode.Errorf(errcode.Internal, "channel %q: the driver's subscription cannot nack, and the bus retries a failed delivery by nacking it: fix the driver", channel)
	}
	s := &Subscription{d: d, batch: max(1, min(bt.MaxReceiveBatch, opts.MaxInflight)), perReceive: bt.MaxReceiveBatch, settleWithin: settleTimeout}
	if bt.QueuedAcks {
		s.settleWithin = 0
	}
	s.life, s.end = context.WithCancel(context.Background())
	if bt.MaxAckBatch > 1 {
		opts := &batcher.Options{MaxBatchSize: bt.MaxAckBatch, MaxHandlers: 1}
		s.acks = batcher.New(reflect.TypeOf([]driver.AckID{}).Elem(), opts, func(items any) error {
			s.sendAcks(items.([]driver.AckID))
			return nil
		})
	}
	return s, nil
}

// Received is one message received from a subscription. It stays with the
// subscription until Ack or Nack; one still unsettled when the
// subscription shuts down is given back to the channel.
type Received struct {
	Message
	// LoggableID names the message in logs.
	LoggableID string

	s  *Subscription
	id driver.AckID
}

// Ack removes the message from its channel. After Shutdown it does nothing:
// the message was given back and will be delivered again.
func (r *Received) Ack() { r.s.settle(r.id, true) }

// Nack gives the message back to its channel, to be delivered again. After
// Shutdown it does nothing.
func (r *Received) Nack() { r.s.settle(r.id, false) }

// defaultMaxInflight is a subscription's MaxInflight when neither its
// options nor the backend's Batching say.
const defaultMaxInflight = 16

// receiveRetryMax caps the wait between receives that failed transiently.
const receiveRetryMax = time.Second

// settleTimeout bounds one ack or nack sent to the backend.
const settleTimeout = 30 * time.Second

// Receive waits for the next message. An error means the channel cannot
// be received from any more, the subscription was shut down, or ctx ended.
// Retry happens in one layer only: an Unavailable receive error is waited
// out here; what to do about a delivery is the caller's decision.
func (s *Subscription) Receive(ctx context.Context) (*Received, error) {
	ms, err := s.receive(ctx, 1)
	if err != nil {
		return nil, err
	}
	r := s.received(ms[0])
	return &r, nil
}

// ReceiveUpTo waits for the next messages and returns at least one and at
// most n: those the channel has for it at once. Its errors are Receive's.
func (s *Subscription) ReceiveUpTo(ctx context.Context, n int) ([]Received, error) {
	ms, err := s.receive(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]Received, len(ms))
	for i, m := range ms {
		out[i] = s.received(m)
	}
	return out, nil
}

// PerReceive is the most messages one receive of the backend returns (as
// Batching.MaxReceiveBatch says), or 0 when it returns as many as it is
// asked for.
func (s *Subscription) PerReceive() int { return s.perReceive }

func (s *Subscription) received(m *driver.Message) Received {
	return Received{Message: Message{Body: m.Body, Metadata: m.Metadata}, LoggableID: m.LoggableID, s: s, id: m.AckID}
}

// receive waits for between one and n messages, waiting out transient
// errors.
func (s *Subscription) receive(ctx context.Context, n int) ([]*driver.Message, error) {
	wait := 50 * time.Millisecond
	for {
		ms, err := s.next(ctx, n)
		switch {
		case len(ms) > 0:
			return ms, nil
		case ctx.Err() != nil || s.life.Err() != nil:
			return nil, s.ended(ctx)
		case err == nil:
			continue // nothing within the driver's wait: ask again
		case !s.d.IsRetryable(err) && errcode.Of(err) != errcode.Unavailable:
			return nil, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, s.ended(ctx)
		case <-s.life.Done():
			timer.Stop()
			return nil, s.ended(ctx)
		}
		wait = min(2*wait, receiveRetryMax)
	}
}

// ended is the error of a Receive cut short by ctx or by Shutdown.
func (s *Subscription) ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return errcode.Errorf(errcode.FailedPrecondition, "receive: the subscription was shut down")
}

// next takes up to n messages left by an earlier receive, or asks the
// driver for up to n (at least s.batch) and keeps those beyond n. It
// returns no message and no error when the driver had none within its
// wait.
func (s *Subscription) next(ctx context.Context, n int) ([]*driver.Message, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errcode.Errorf(errcode.FailedPrecondition, "receive: the subscription was shut down")
	}
	if len(s.extra) > 0 {
		n = min(n, len(s.extra))
		ms := s.extra[:n:n]
		s.extra = s.extra[n:]
		s.mu.Unlock()
		return ms, nil
	}
	s.receiving.Add(1)
	s.mu.Unlock()
	defer s.receiving.Done()

	// The driver gets ctx itself, not one merged with life: a context
	// made per receive costs every event an allocation and a lock on the
	// shared parent, and drivers return within their wait anyway.
	ms, err := s.d.ReceiveBatch(ctx, max(n, s.batch))
	if ctx.Err() != nil || len(ms) == 0 {
		s.giveBack(ms)
		return nil, classify(err, s.d.ErrorCode)
	}
	if len(ms) > n {
		s.mu.Lock()
		s.extra = append(s.extra, ms[n:]...)
		s.mu.Unlock()
		ms = ms[:n:n]
	}
	return ms, classify(err, s.d.ErrorCode)
}

func (s *Subscription) settle(id driver.AckID, ack bool) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
	case ack && s.acks != nil:
		s.acks.AddNoWait(id)
	case ack:
		s.sendAcks([]driver.AckID{id})
	default:
		s.nack([]driver.AckID{id})
	}
}

// sendAcks and nack leave a message with the backend when they fail, and
// the backend delivers it again: at-least-once, as the driver contract
// says.
func (s *Subscription) sendAcks(ids []driver.AckID) {
	ctx, cancel := s.settling()
	defer cancel()
	_ = s.d.SendAcks(ctx, ids)
}

func (s *Subscription) nack(ids []driver.AckID) {
	ctx, cancel := s.settling()
	defer cancel()
	_ = s.d.SendNacks(ctx, ids)
}

// settling is the context of one ack or nack sent: bounded by
// settleWithin, or, on a local backend, without the timer.
func (s *Subscription) settling() (context.Context, context.CancelFunc) {
	if s.settleWithin == 0 {
		return context.Background(), func() {}
	}
	return context.WithTimeout(context.Background(), s.settleWithin)
}

func (s *Subscription) giveBack(ms []*driver.Message) {
	if len(ms) == 0 {
		return
	}
	ids := make([]driver.AckID, len(ms))
	for i, m := range ms {
		ids[i] = m.AckID
	}
	s.nack(ids)
}

// Shutdown releases every Receive (one waiting in the driver once the
// driver's receive wait ends), gives back the messages received and
// not yet handed out, sends the acks still gathered, and closes the
// driver subscription, which gives back what is still unsettled. Calling
// it again does nothing.
func (s *Subscription) Shutdown(context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.closeErr
	}
	s.closed = true
	s.mu.Unlock()
	s.end()
	s.receiving.Wait()
	s.mu.Lock()
	extra := s.extra
	s.extra = nil
	s.mu.Unlock()
	s.giveBack(extra)
	if s.acks != nil {
		s.acks.Shutdown()
	}
	err := s.d.Close()
	if err != nil {
		err = fmt.Errorf("closing a driver subscription: %w", classify(err, s.d.ErrorCode))
	}
	s.mu.Lock()
	s.closeErr = err
	s.mu.Unlock()
	return err
}
