package bus

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/pubsub"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/router"
)

// Extensions the bus adds to an event it dead-letters.
const (
	extDeadLetterReason = "deadletterreason"
	extDeadLetterRoute  = "deadletterroute"
	extAttempts         = "deliveryattempts"
	extFirstAttempt     = "firstattempttime"
	extLastAttempt      = "lastattempttime"
)

// dispatcher delivers one route's channel to its target: at most
// max_inflight events at once, each retried with backoff until it is
// delivered or its attempts run out, when it goes to the dead-letter channel.
type dispatcher struct {
	route      router.Route
	sub        *pubsub.Subscription
	target     target
	deadLetter *pubsub.Topic
	log        *slog.Logger

	slots    chan struct{} // one token per delivery in flight
	inflight sync.WaitGroup
	busy     atomic.Int64 // deliveries in flight, for the drain check

	stopReceiving context.CancelFunc // no new events
	receiving     context.Context
	stopWaiting   context.CancelFunc // events waiting to retry go back to the channel
	waiting       context.Context
	abandon       context.CancelFunc // attempts in progress are cut off
	attempts      context.Context
	loopDone      chan struct{}
}

func startDispatcher(r router.Route, sub *pubsub.Subscription, t target, deadLetter *pubsub.Topic, log *slog.Logger) *dispatcher {
	d := &dispatcher{
		route:      r,
		sub:        sub,
		target:     t,
		deadLetter: deadLetter,
		log:        log.With("route", r.Name),
		slots:      make(chan struct{}, r.Delivery.MaxInflight),
		loopDone:   make(chan struct{}),
	}
	d.receiving, d.stopReceiving = context.WithCancel(context.Background())
	d.waiting, d.stopWaiting = context.WithCancel(context.Background())
	d.attempts, d.abandon = context.WithCancel(context.Background())
	go d.receiveLoop()
	return d
}

func (d *dispatcher) receiveLoop() {
	defer close(d.loopDone)
	for {
		select {
		case d.slots <- struct{}{}:
		case <-d.receiving.Done():
			return
		}
		msg, err := d.sub.Receive(d.receiving)
		if err != nil {
			<-d.slots
			if d.receiving.Err() == nil {
				// gocloud returns only permanent errors here.
				d.log.Error("route stopped receiving; recreate the route or restart the bus once the backend is fixed", "err", err)
			}
			return
		}
		d.inflight.Add(1)
		d.busy.Add(1)
		go d.handle(msg)
	}
}

func (d *dispatcher) handle(msg *pubsub.Message) {
	defer func() {
		d.busy.Add(-1)
		<-d.slots
		d.inflight.Done()
	}()
	e, err := adapters.DecodeEvent(msg)
	if err != nil {
		d.log.Error("message is not a CloudEvent; moving it to the dead-letter channel", "message", msg.LoggableID, "err", err)
		d.sendToDeadLetter(msg, &pubsub.Message{Body: msg.Body, Metadata: msg.Metadata})
		return
	}
	log := d.log.With("event_id", e.ID(), "event_source", e.Source())
	first := time.Now()
	for attempt := 1; ; attempt++ {
		err := d.target.Deliver(d.attempts, e)
		if err == nil {
			msg.Ack()
			return
		}
		if d.attempts.Err() != nil {
			msg.Nack()
			return
		}
		if attempt >= d.route.Delivery.MaxAttempts {
			log.Warn("delivery attempts exhausted; dead-lettering the event", "attempt", attempt, "err", err)
			dl := e.Clone()
			dl.SetExtension(extDeadLetterReason, err.Error())
			dl.SetExtension(extDeadLetterRoute, d.route.Name)
			dl.SetExtension(extAttempts, attempt)
			dl.SetExtension(extFirstAttempt, first)
			dl.SetExtension(extLastAttempt, time.Now())
			m, encErr := adapters.EncodeEvent(&dl)
			if encErr != nil {
				log.Error("cannot encode the dead letter; the event stays in the channel", "err", encErr)
				msg.Nack()
				return
			}
			d.sendToDeadLetter(msg, m)
			return
		}
		wait := backoff(d.route.Delivery.Backoff, attempt)
		log.Info("delivery failed; retrying", "attempt", attempt, "retry_in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-d.waiting.Done():
			timer.Stop()
			msg.Nack()
			return
		}
	}
}

// sendToDeadLetter stores m on the dead-letter channel, then acks the
// original; if the store fails the original is nacked so it is not lost.
func (d *dispatcher) sendToDeadLetter(orig, m *pubsub.Message) {
	if err := d.deadLetter.Send(d.attempts, m); err != nil {
		d.log.Error("cannot store the dead letter; the event goes back to the channel", "err", err)
		orig.Nack()
		return
	}
	orig.Ack()
}

// backoff is the wait before attempt+1: exponential from Initial, capped at
// Max, with full jitter above Initial so retries of many events spread out.
func backoff(b router.Backoff, attempt int) time.Duration {
	lo, hi := time.Duration(b.Initial), time.Duration(b.Max)
	ceiling := lo
	for i := 1; i < attempt && ceiling < hi; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, hi)
	if ceiling <= lo {
		return lo
	}
	return lo + rand.N(ceiling-lo+1)
}

// shutdown stops the dispatcher. With drain set (a non-durable channel) it
// first keeps delivering until the channel is empty; otherwise it finishes
// the attempts in progress and gives waiting events back to the channel.
// When ctx ends, attempts in progress are cut off and their events nacked.
func (d *dispatcher) shutdown(ctx context.Context, drain bool, depth func(context.Context) (int64, error)) {
	if drain {
		d.waitDrained(ctx, depth)
	}
	d.stopReceiving()
	d.stopWaiting()
	done := make(chan struct{})
	go func() {
		<-d.loopDone
		d.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		d.abandon()
		<-done
	}
	d.abandon()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.sub.Shutdown(shutCtx); err != nil {
		d.log.Warn("closing the subscription", "err", err)
	}
}

// waitDrained returns once nothing is in flight and the channel is empty,
// or when ctx ends. Acks reach the channel asynchronously, so it polls.
func (d *dispatcher) waitDrained(ctx context.Context, depth func(context.Context) (int64, error)) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if d.busy.Load() == 0 {
			n, err := depth(ctx)
			if err != nil || n == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			n, _ := depth(context.Background())
			d.log.Error("shutdown deadline reached before the in-memory channel drained; its events are lost", "events", n)
			return
		case <-tick.C:
		}
	}
}
