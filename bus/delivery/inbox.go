package delivery

import (
	"context"
	"time"

	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// delivery is one event received from a route's channel, and the way to
// settle it.
type delivery struct {
	id       string // the backend's name for the message, for logs
	body     []byte
	metadata map[string]string
	settle   func(ack bool)
}

func (d *delivery) ack()  { d.settle(true) }
func (d *delivery) nack() { d.settle(false) }

// inbox is where a dispatcher's workers receive from. Several workers call
// receive at once.
type inbox interface {
	// receive waits for the next event; an error means the channel cannot
	// be received from any more (or ctx ended).
	receive(ctx context.Context) (*delivery, error)
	// close gives back what was received and not settled.
	close(ctx context.Context) error
}

// openInbox opens a route's channel for its dispatcher: through the driver
// where the backend is an adapters.Receiver, else through pubsub.
func openInbox(ctx context.Context, be adapters.Backend, channel string, opts adapters.SubscriptionOptions) (inbox, error) {
	if r, ok := be.(adapters.Receiver); ok {
		sub, err := r.OpenReceiver(ctx, channel, opts)
		if err != nil {
			return nil, err
		}
		return &driverInbox{sub: sub}, nil
	}
	sub, err := be.OpenSubscription(ctx, channel, opts)
	if err != nil {
		return nil, err
	}
	return &pubsubInbox{sub: sub}, nil
}

// pubsubInbox receives through gocloud's portable subscription.
type pubsubInbox struct{ sub *pubsub.Subscription }

func (in *pubsubInbox) receive(ctx context.Context) (*delivery, error) {
	m, err := in.sub.Receive(ctx)
	if err != nil {
		return nil, err
	}
	return &delivery{id: m.LoggableID, body: m.Body, metadata: m.Metadata, settle: func(ack bool) {
		if ack {
			m.Ack()
		} else {
			m.Nack()
		}
	}}, nil
}

func (in *pubsubInbox) close(ctx context.Context) error { return in.sub.Shutdown(ctx) }

// driverInbox receives through the driver itself, one message per call, and
// settles each at once: no tracing, finalizer or ack batcher per event.
// Retry in one layer only: a transient receive error is waited out here, as
// pubsub.Subscription would; the dispatcher decides about deliveries.
type driverInbox struct{ sub driver.Subscription }

// receiveRetryMax caps the wait between receives that failed transiently.
const receiveRetryMax = time.Second

func (in *driverInbox) receive(ctx context.Context) (*delivery, error) {
	wait := 50 * time.Millisecond
	for {
		ms, err := in.sub.ReceiveBatch(ctx, 1)
		if ctx.Err() != nil {
			in.giveBack(ms)
			return nil, ctx.Err()
		}
		switch {
		case err != nil && !in.sub.IsRetryable(err) && adapters.CodeOf(err) != errcode.Unavailable:
			return nil, err
		case err != nil:
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return nil, ctx.Err()
			}
			wait = min(2*wait, receiveRetryMax)
			continue
		case len(ms) == 0:
			continue // nothing within the driver's wait: ask again
		}
		m := ms[0]
		in.giveBack(ms[1:]) // a driver may return more than asked
		return &delivery{id: m.LoggableID, body: m.Body, metadata: m.Metadata, settle: func(ack bool) {
			in.settle(m.AckID, ack)
		}}, nil
	}
}

func (in *driverInbox) settle(id driver.AckID, ack bool) {
	ids := []driver.AckID{id}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch {
	case ack:
		_ = in.sub.SendAcks(ctx, ids)
	case in.sub.CanNack():
		_ = in.sub.SendNacks(ctx, ids)
	}
	// A failed settle leaves the message with the backend, which delivers
	// it again: at-least-once, as the driver contract says.
}

func (in *driverInbox) giveBack(ms []*driver.Message) {
	for _, m := range ms {
		in.settle(m.AckID, false)
	}
}

func (in *driverInbox) close(context.Context) error { return in.sub.Close() }
