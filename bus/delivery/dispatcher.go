package delivery

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/bus/history"
	"github.com/eventbus-go/eventbus/bus/tracing"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/transform"
	"github.com/eventbus-go/eventbus/verdict"
)

// Extensions the bus adds to an event it dead-letters.
const (
	extDeadLetterReason = "deadletterreason"
	extDeadLetterRoute  = "deadletterroute"
	extDeadLetterStatus = "deadletterstatus"
	extAttempts         = "deliveryattempts"
	extFirstAttempt     = "firstattempttime"
	extLastAttempt      = "lastattempttime"
)

// Room is a route's admission: its events stored and not yet finished,
// capped at max_depth. Delivery gives back the room of every event it
// finishes (delivered, dropped or dead-lettered); a redrive takes room for
// every event it puts back.
type Room interface {
	TryAcquire() bool
	Release()
}

// Options are what a route's dispatcher works with; every field is
// required.
type Options struct {
	Route   router.Route // with defaults applied
	Backend *adapters.Backend
	// Channel is the route's own channel, for retries; DeadLetter its
	// dead-letter channel.
	Channel, DeadLetter *adapters.Channel
	// Target is a BatchTarget on a route with delivery.batch (Batched).
	Target      Target
	CloseTarget func(context.Context) error
	Counters    *Counters
	Room        Room
	Log         *slog.Logger
	// Tracer records a span per attempt; nil (tracing off) records none.
	Tracer trace.Tracer
	// History records each attempt and where each event ended; nil
	// records nothing.
	History *history.History
	// Replicas counts the bus processes delivering the route together;
	// each delivers at its share of the route's rate, rate/Replicas(). Nil
	// means this process alone.
	Replicas func() int
}

// Dispatcher delivers one route's channel to its target: at most
// max_inflight events at once, at most rate per second, each retried with
// backoff until the target takes it, refuses it, or attempts run out.
type Dispatcher struct {
	route       router.Route
	sub         *adapters.Subscription
	channel     *adapters.Channel // the route's own channel, for retries
	deadLetter  *adapters.Channel
	target      Target
	closeTarget func(context.Context) error
	// requeue: a retry goes back to the channel with a due time, freeing
	// its slot; otherwise the dispatcher holds it while it waits, as an
	// ordered route must (its key's lane waits anyway).
	requeue bool
	program *transform.Program // nil: the route has no transform
	// limiter paces attempts to the route's rate, perSecond shared with
	// the replicas counted by replicas (nil: this process alone); nil
	// without a rate.
	limiter   *rate.Limiter
	perSecond float64
	replicas  func() int
	// batches delivers a route with delivery.batch several events to a
	// request (batchworker.go); nil: the route has none.
	batches   *batching
	stats     *Counters
	admission Room
	history   *history.History
	log       *slog.Logger
	tracer    trace.Tracer // nil: tracing off

	workers  sync.WaitGroup // the goroutines receiving and delivering
	busy     atomic.Int64   // events received and not yet settled, for the drain check and stats
	failOnce sync.Once      // the workers share one subscription: report its failure once

	stopReceiving context.CancelFunc // no new events
	receiving     context.Context
	stopWaiting   context.CancelFunc // events waiting to retry go back to the channel
	waiting       context.Context
	abandon       context.CancelFunc // attempts in progress are cut off
	attempts      context.Context
}

// Start opens the route's channel for delivery and runs its dispatcher
// until Shutdown.
func Start(ctx context.Context, o Options) (*Dispatcher, error) {
	r := o.Route
	var program *transform.Program
	if r.Transform != "" {
		var err error
		if program, err = transform.Compile(r.Transform); err != nil { // checked on save already
			return nil, errcode.Errorf(errcode.InvalidArgument, "route %s: transform: %v", r.Name, err)
		}
	}
	var batchTarget BatchTarget
	if r.Delivery.Batch != nil {
		var ok bool
		if batchTarget, ok = o.Target.(BatchTarget); !ok {
			return nil, errcode.Errorf(errcode.InvalidArgument, "route %s: delivery.batch: its target does not take batches", r.Name) // checked on save already
		}
	}
	sub, err := o.Backend.OpenSubscription(ctx, r.Name, adapters.SubscriptionOptions{
		MaxInflight: r.Delivery.MaxInflight,
		Ordered:     r.Delivery.OrderingKey != "",
	})
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{
		route:       r,
		sub:         sub,
		channel:     o.Channel,
		deadLetter:  o.DeadLetter,
		target:      o.Target,
		closeTarget: o.CloseTarget,
		requeue:     o.Backend.Capabilities().Delay && r.Delivery.OrderingKey == "",
		program:     program,
		stats:       o.Counters,
		admission:   o.Room,
		history:     o.History,
		log:         o.Log,
		tracer:      o.Tracer,
	}
	if r.Delivery.Rate != "" {
		d.perSecond, _ = router.ParseRate(r.Delivery.Rate) // validated on save
		d.limiter = rate.NewLimiter(rate.Limit(d.perSecond), 1)
		d.replicas = o.Replicas
	}
	d.start(batchTarget)
	return d, nil
}

// Busy counts the events received and not yet settled.
func (d *Dispatcher) Busy() int64 { return d.busy.Load() }

// start runs the route's workers: a fixed pool rather than a goroutine per
// event, so a busy route reuses warm stacks. Without delivery.batch, there
// are max_inflight workers, and each receives one event and delivers it,
// then the next; with it, the route's target as a BatchTarget takes the
// events in batches (startBatches).
func (d *Dispatcher) start(batchTarget BatchTarget) {
	d.log = d.log.With("route", d.route.Name)
	d.receiving, d.stopReceiving = context.WithCancel(context.Background())
	d.waiting, d.stopWaiting = context.WithCancel(context.Background())
	d.attempts, d.abandon = context.WithCancel(context.Background())
	if batchTarget != nil {
		d.startBatches(batchTarget)
		return
	}
	for range d.route.Delivery.MaxInflight {
		d.workers.Go(d.work)
	}
}

func (d *Dispatcher) work() {
	var dec adapters.Decoder // this worker's own, so it parses a source once
	for {
		msg, err := d.sub.Receive(d.receiving)
		if err != nil {
			d.stoppedReceiving(err)
			return
		}
		d.busy.Add(1)
		if a := d.receive(&dec, msg); a != nil {
			d.settle(a, d.deliverEvent(d.eventContext(a), a))
		}
		d.busy.Add(-1)
	}
}

// stoppedReceiving reports why a worker's receive failed, unless the
// dispatcher stopped it; the workers share one subscription, so once.
func (d *Dispatcher) stoppedReceiving(err error) {
	if d.receiving.Err() != nil {
		return
	}
	// gocloud returns only permanent errors here.
	d.failOnce.Do(func() {
		d.log.Error("route stopped receiving; recreate the route or restart the bus once the backend is fixed", "err", err)
	})
}

// receive decodes one received event with dec into its attempt. A message
// that is not a CloudEvent goes to the dead-letter channel, settled, and
// receive returns nil.
func (d *Dispatcher) receive(dec *adapters.Decoder, msg *adapters.Received) *attempt {
	e, err := dec.Decode(msg)
	if err != nil {
		d.log.Error("message is not a CloudEvent; moving it to the dead-letter channel", "message", msg.LoggableID, "err", err)
		if err := d.storeDeadLetter(&msg.Message); err != nil {
			msg.Nack()
			return nil
		}
		d.settle(&attempt{msg: msg}, Outcome{Verdict: verdict.DeadLetter})
		return nil
	}
	return &attempt{
		msg:      msg,
		event:    e,
		source:   storedSource(msg.Metadata, e),
		attempts: metaInt(msg.Metadata, adapters.MetaAttempts),
		first:    metaTime(msg.Metadata, adapters.MetaFirstAttempt),
	}
}

// eventContext is the context of a's delivery: its policy logs, and its
// attempts start their spans, in the event's trace.
func (d *Dispatcher) eventContext(a *attempt) context.Context {
	if d.tracer == nil {
		return d.attempts
	}
	return tracing.FromEvent(d.attempts, a.event)
}

// settle acks or nacks what the policy made of an event, and counts it. A
// dead letter reaching here is stored on the dead-letter channel; a retry
// reaching here was interrupted by shutdown and goes back to the channel.
func (d *Dispatcher) settle(a *attempt, out Outcome) {
	d.recordSettled(a, out)
	switch {
	case a.requeued: // a new copy waits on the channel; its room stays taken
		a.msg.Ack()
	case out.Verdict == verdict.Ack:
		a.msg.Ack()
		d.stats.Delivered.Add(1)
		if at := metaTime(a.msg.Metadata, adapters.MetaAcceptedAt); !at.IsZero() {
			d.stats.Latency.observe(time.Since(at))
		}
		d.admission.Release()
	case out.Verdict == verdict.Drop:
		a.msg.Ack()
		d.stats.Dropped.Add(1)
		d.admission.Release()
	case out.Verdict == verdict.DeadLetter:
		a.msg.Ack()
		d.stats.DeadLettered.Add(1)
		d.admission.Release()
	default:
		a.msg.Nack() // the next receiver, or the next process, delivers it
	}
}

// eventLog is the route's logger naming e. It is built only when there is
// something to say: most deliveries log nothing.
func (d *Dispatcher) eventLog(e *event.Event) *slog.Logger {
	return d.log.With("event_id", e.ID(), "event_source", e.Source())
}

// storedSource is the source of event e as its message holds it: the
// history's key for it, as ingress recorded it.
func storedSource(md map[string]string, e *event.Event) string {
	if source, ok := md["source"]; ok {
		return source
	}
	return e.Source()
}

// metaInt and metaTime read the bus's metadata; absent (as on most
// events) is zero, without a parse error made and dropped.
func metaInt(md map[string]string, key string) int {
	v := md[key]
	if v == "" {
		return 0
	}
	n, _ := strconv.Atoi(v)
	return n
}

func metaTime(md map[string]string, key string) time.Time {
	v := md[key]
	if v == "" {
		return time.Time{}
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms)
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

// Shutdown stops the dispatcher. With drain set (a non-durable channel) it
// first keeps delivering until the channel is empty; otherwise it finishes
// the attempts in progress and gives waiting events back to the channel.
// When ctx ends, attempts in progress are cut off and their events nacked.
func (d *Dispatcher) Shutdown(ctx context.Context, drain bool, depth func(context.Context) (int64, error)) {
	if drain {
		d.waitDrained(ctx, depth)
	}
	d.stopReceiving()
	d.stopWaiting()
	done := make(chan struct{})
	go func() {
		d.workers.Wait()
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
	if err := d.closeTarget(shutCtx); err != nil {
		d.log.Warn("closing the target", "err", err)
	}
}

// waitDrained returns once nothing is in flight and the channel is empty,
// or when ctx ends. Acks reach the channel asynchronously, so it polls.
func (d *Dispatcher) waitDrained(ctx context.Context, depth func(context.Context) (int64, error)) {
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
