package delivery

import (
	"cmp"
	"context"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/semaphore"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/verdict"
)

// Batch delivery (a route's delivery.batch) changes how a route's events
// reach their first attempt. Receivers take events from the channel while
// max_inflight leaves room, and hand them on. A worker fills a batch: it
// takes the next event, then what else comes within max_wait, up to
// max_events and as the route's rate allows, each decoded and transformed
// as it is taken. It sends the batch as one request (or as few as
// max_bytes allows, at once), then applies the rest of the policy to each
// event on its own: the history records each attempt, and each is
// settled, counted, dead-lettered or retried as it would be alone. One
// batch fills at a time, so that a batch is full before the next opens;
// the workers take turns, one filling while the others send.
//
// An event the target asks to retry goes on through the policy on a
// goroutine of its own, so that a retry held in place (on an ordered
// route, or a backend that cannot delay) does not hold its batch-mates;
// its later attempts are batches of one.
//
// Ordering holds by construction: an ordered subscription hands out the
// next event of a key only once the one before is settled, so a batch
// never holds two events of one key.

// batching is what a batch route's dispatcher adds to deliver in batches.
type batching struct {
	target    BatchTarget // the dispatcher's target
	maxEvents int
	maxWait   time.Duration
	// perReceive is the most events one receive takes: a batch, or less
	// where the backend's receives are small.
	perReceive int
	// slots bounds the route's events in flight, from their receive to
	// their settle, at max_inflight: a batch holds many, and retries go
	// on beside the batches.
	slots *semaphore.Weighted
	// received carries what each receive took, from the receivers to the
	// worker filling a batch; closed once every receiver stopped.
	received chan []adapters.Received

	filling sync.Mutex // held by the worker filling a batch, over what follows
	pending []adapters.Received
	// carried is an event taken into a batch that the route's rate would
	// have sent after max_wait: it opens the next batch.
	carried *batchEvent
}

// batchEvent is an event taken into a batch: its attempt, and the context
// of its delivery (eventContext).
type batchEvent struct {
	a   *attempt
	ctx context.Context
}

// startBatches runs a batch route's receivers and workers: as many
// workers as max_inflight holds batches, and enough receivers to fill a
// batch with one receive each, where the backend's receives are small
// (SQS: 10 messages).
func (d *Dispatcher) startBatches(target BatchTarget) {
	b, inflight := d.route.Delivery.Batch, d.route.Delivery.MaxInflight
	workers := max(1, inflight/b.MaxEvents)
	receivers, perReceive := workers, b.MaxEvents
	if per := d.sub.PerReceive(); per > 0 && per < perReceive {
		receivers, perReceive = max(receivers, (b.MaxEvents+per-1)/per), per
	}
	d.batches = &batching{
		target:     target,
		maxEvents:  b.MaxEvents,
		maxWait:    time.Duration(b.MaxWait),
		perReceive: perReceive,
		slots:      semaphore.NewWeighted(int64(inflight)),
		received:   make(chan []adapters.Received, receivers),
	}
	var running sync.WaitGroup // the receivers
	for range receivers {
		running.Go(d.receiveForBatches)
	}
	d.workers.Go(func() {
		running.Wait()
		close(d.batches.received)
	})
	for range workers {
		d.workers.Go(d.workBatches)
	}
}

// receiveForBatches receives events while max_inflight leaves room, at
// most perReceive at a time, and hands them to the workers. Each event
// holds a slot from here until it is settled (free).
func (d *Dispatcher) receiveForBatches() {
	b := d.batches
	for {
		if err := b.slots.Acquire(d.receiving, 1); err != nil {
			return // the dispatcher stops receiving
		}
		n := 1 + d.reserveSlots(b.perReceive-1)
		msgs, err := d.sub.ReceiveUpTo(d.receiving, n)
		b.slots.Release(int64(n - len(msgs)))
		if err != nil {
			d.stoppedReceiving(err)
			return
		}
		d.busy.Add(int64(len(msgs)))
		select {
		case b.received <- msgs:
		case <-d.receiving.Done():
			d.giveBack(msgs)
			return
		}
	}
}

// reserveSlots takes up to n slots without waiting and returns how many:
// n, or half of it, and so on, so it may take fewer than are free.
func (d *Dispatcher) reserveSlots(n int) int {
	for ; n > 0; n /= 2 {
		if d.batches.slots.TryAcquire(int64(n)) {
			return n
		}
	}
	return 0
}

// workBatches is a batch route's worker: it fills a batch and delivers it,
// until the dispatcher stops receiving.
func (d *Dispatcher) workBatches() {
	var dec adapters.Decoder // this worker's own, so it parses a source once
	for {
		events, ok := d.fillBatch(&dec)
		if !ok {
			return
		}
		d.deliverBatch(events)
	}
}

// fillBatch waits for the next event, then takes what else comes within
// max_wait, up to max_events and as the route's rate allows; dec decodes
// each. It reports false when the dispatcher stops receiving: what was
// received and not delivered goes back to the route's channel.
func (d *Dispatcher) fillBatch(dec *adapters.Decoder) ([]batchEvent, bool) {
	b := d.batches
	b.filling.Lock()
	defer b.filling.Unlock()
	events := make([]batchEvent, 0, b.maxEvents)
	timer := time.NewTimer(b.maxWait)
	timer.Stop()
	defer timer.Stop()
	var deadline time.Time
	var sendBy <-chan time.Time // nil until the batch's first event
	for len(events) < b.maxEvents {
		if d.receiving.Err() != nil {
			d.stopFilling(events)
			return nil, false
		}
		var ev batchEvent
		switch {
		case b.carried != nil:
			ev, b.carried = *b.carried, nil
		case len(b.pending) == 0:
			select {
			case msgs, ok := <-b.received:
				if !ok { // every receiver stopped
					d.stopFilling(events)
					return nil, false
				}
				b.pending = msgs
			case <-sendBy:
				return events, true
			case <-d.receiving.Done():
				d.stopFilling(events)
				return nil, false
			}
			continue
		default:
			msg := &b.pending[0]
			b.pending = b.pending[1:]
			var ok bool
			if ev, ok = d.readyForBatch(dec, msg); !ok {
				continue
			}
		}
		if len(events) == 0 {
			if out, ok := d.waitRate(); !ok {
				d.finish(ev.a, out)
				continue
			}
			deadline = time.Now().Add(b.maxWait)
			timer.Reset(b.maxWait)
			sendBy = timer.C
		} else if !d.rateAllows(deadline) {
			b.carried = &ev
			return events, true
		}
		events = append(events, ev)
	}
	return events, true
}

// readyForBatch decodes a received event with dec and transforms it. It
// reports false when the event is not to be attempted, settled already:
// not a CloudEvent, or dropped or refused by the route's transform.
func (d *Dispatcher) readyForBatch(dec *adapters.Decoder, msg *adapters.Received) (batchEvent, bool) {
	a := d.receive(dec, msg)
	if a == nil { // not a CloudEvent: receive settled it
		d.free()
		return batchEvent{}, false
	}
	ev := batchEvent{a: a, ctx: d.eventContext(a)}
	if out, ok := d.transform(ev.ctx, a); !ok {
		d.finish(a, d.keepRefused(ev.ctx, a, out))
		return batchEvent{}, false
	}
	return ev, true
}

// giveBack returns received events to the route's channel, their slots
// freed.
func (d *Dispatcher) giveBack(msgs []adapters.Received) {
	for i := range msgs {
		msgs[i].Nack()
		d.free()
	}
}

// stopFilling gives the events of the batch filling, and every event
// received and not yet in a batch, back to the route's channel, once the
// receivers stopped.
func (d *Dispatcher) stopFilling(events []batchEvent) {
	b := d.batches
	if b.carried != nil {
		events = append(events, *b.carried)
		b.carried = nil
	}
	for _, ev := range events {
		d.finish(ev.a, Outcome{Verdict: verdict.Retry, Reason: "delivery stopped before the event's batch was sent"})
	}
	d.giveBack(b.pending)
	b.pending = nil
	for msgs := range b.received { // until the receivers stopped
		d.giveBack(msgs)
	}
}

// deliverBatch makes the first attempt at events as one batch, and
// records each attempt before it settles any event: an event's record and
// span end when its batch was answered. Each event is then settled, or
// handed on to be retried.
func (d *Dispatcher) deliverBatch(events []batchEvent) {
	sent := make([]*event.Event, len(events))
	attemptCtxs := make([]context.Context, len(events))
	spans := make([]trace.Span, len(events))
	for i, ev := range events {
		attemptCtxs[i], spans[i] = d.startSpan(ev.ctx, ev.a)
		sent[i] = withTraceContext(attemptCtxs[i], cmp.Or(ev.a.sent, ev.a.event))
	}
	start := time.Now()
	outs := d.batches.target.DeliverBatch(d.attempts, sent)
	end := time.Now()
	for i, ev := range events {
		outs[i] = d.attempted(attemptCtxs[i], ev.a, start, outs[i])
		d.record(ev.a, start, end, outs[i])
		endSpan(spans[i], ev.a, outs[i])
	}
	settled := 0
	for i, ev := range events {
		if out := outs[i]; out.Verdict == verdict.Retry && ev.ctx.Err() == nil {
			d.workers.Go(func() { d.retryAlone(ev, out) })
			continue
		}
		d.settle(ev.a, d.keepRefused(ev.ctx, ev.a, outs[i]))
		d.busy.Add(-1)
		settled++
	}
	// One release for the batch: a receiver waiting for room takes it
	// whole, not an event at a time.
	d.batches.slots.Release(int64(settled))
}

// retryAlone takes an event of a batch that its target asked to retry
// through the rest of the policy, on its own.
func (d *Dispatcher) retryAlone(ev batchEvent, out Outcome) {
	d.finish(ev.a, d.keepRefused(ev.ctx, ev.a, d.retry(ev.ctx, ev.a, out)))
}

// finish settles a batch route's event and frees its slot.
func (d *Dispatcher) finish(a *attempt, out Outcome) {
	d.settle(a, out)
	d.free()
}

// free gives back the slot of a batch route's event, settled.
func (d *Dispatcher) free() {
	d.busy.Add(-1)
	d.batches.slots.Release(1)
}
