package delivery

import (
	"cmp"
	"context"
	"maps"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/bus/history"
	"github.com/eventbus-go/eventbus/verdict"
)

// A route's delivery policy, in the order it applies to an event:
// transform (reshape the event, once); attempts at the target, each after
// the route's rate, in a span of its own when tracing is on, and recorded
// in the event history; retry (wait and try again, or requeue) while the
// target asks for it; then dead letters (store what is refused or
// exhausted). deliverEvent applies all of it to one event. A batch
// route's worker (batchworker.go) makes the first attempt at many events as
// one request, and applies the rest to each event on its own.

// attempt is one received event on its way through the policy.
type attempt struct {
	msg   *adapters.Received
	event *event.Event // as stored: what dead letters keep and redrive sends again
	// source is the event's source as its message holds it
	// (storedSource): the history's key, read once, where event.Source()
	// would format the URI again at every call.
	source string
	// sent is the event as the target receives it, when the route's
	// transform made it; nil: event.
	sent     *event.Event
	attempts int       // made so far, this copy's earlier ones included
	first    time.Time // of the first attempt; zero before it
	// requeued: retry stored a new copy on the channel, due
	// later; this one only needs an ack.
	requeued bool
	// recorded is the state the last attempt left the event in, as the
	// history has it; "" before any.
	recorded history.State
}

// deliverEvent takes one event through the route's policy and says what
// became of it.
func (d *Dispatcher) deliverEvent(ctx context.Context, a *attempt) Outcome {
	if out, ok := d.transform(ctx, a); !ok {
		return d.keepRefused(ctx, a, out)
	}
	out, attempted := d.try(ctx, a)
	if attempted {
		out = d.retry(ctx, a, out)
	}
	return d.keepRefused(ctx, a, out)
}

// try makes one attempt at the target, after the route's rate, and says
// whether it made one: shutdown may end the wait for the rate first.
func (d *Dispatcher) try(ctx context.Context, a *attempt) (Outcome, bool) {
	if out, ok := d.waitRate(); !ok {
		return out, false
	}
	ctx, span := d.startSpan(ctx, a)
	start := time.Now()
	out := d.attempted(ctx, a, start, d.target.Deliver(ctx, cmp.Or(a.sent, a.event)))
	d.record(a, start, time.Now(), out)
	endSpan(span, a, out)
	return out, true
}

// attempted counts an attempt at a begun at start and judges its outcome:
// an attempt cut off by shutdown is a retry that retry does not wait out,
// so the event goes back to the channel for the next process.
func (d *Dispatcher) attempted(ctx context.Context, a *attempt, start time.Time, out Outcome) Outcome {
	if a.first.IsZero() {
		a.first = start
	}
	a.attempts++
	if ctx.Err() != nil {
		return Outcome{Verdict: verdict.Retry, Reason: "cut off by shutdown"}
	}
	switch out.Verdict {
	case verdict.Drop:
		d.eventLog(a.event).InfoContext(ctx, "target dropped the event", "reason", out.Reason)
	case verdict.DeadLetter:
		d.eventLog(a.event).WarnContext(ctx, "target refused the event; dead-lettering it", "attempt", a.attempts, "reason", out.Reason)
	}
	return out
}

// transform reshapes the event with the route's transform before its
// first attempt; its retries send the same result. It reports false, with
// the outcome, when the event is not to be attempted: a transform that
// makes no event drops it; one that fails dead-letters the event as
// stored, with the reason, so a redrive after the route's transform is
// fixed sends it through the new one.
func (d *Dispatcher) transform(ctx context.Context, a *attempt) (Outcome, bool) {
	if d.program == nil {
		return Outcome{}, true
	}
	sent, err := d.program.Apply(ctx, a.event)
	switch {
	case err != nil:
		d.eventLog(a.event).Warn("the route's transform failed; dead-lettering the event", "reason", err)
		return Outcome{Verdict: verdict.DeadLetter, Reason: err.Error()}, false
	case sent == nil:
		return Outcome{Verdict: verdict.Drop, Reason: "the route's transform made no event"}, false
	}
	a.sent = sent
	return Outcome{}, true
}

// startSpan starts the span of an attempt at a in the event's trace, when
// tracing is on; the target receives the span's trace context.
func (d *Dispatcher) startSpan(ctx context.Context, a *attempt) (context.Context, trace.Span) {
	if d.tracer == nil {
		return ctx, nil
	}
	return d.tracer.Start(ctx, "deliver "+d.route.Name,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("eventbus.route", d.route.Name),
			attribute.String("cloudevents.event_id", a.event.ID()),
			attribute.String("cloudevents.event_source", a.source),
		))
}

// endSpan ends an attempt's span (nil: tracing is off) with its verdict.
func endSpan(span trace.Span, a *attempt, out Outcome) {
	if span == nil {
		return
	}
	span.SetAttributes(attribute.Int("eventbus.attempt", a.attempts), attribute.String("eventbus.verdict", out.Verdict.String()))
	if out.Status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", out.Status))
	}
	if out.Verdict != verdict.Ack {
		span.SetStatus(codes.Error, out.Reason)
	}
	span.End()
}

// rateLimiter is the route's limiter at this process's share of the
// route's rate, adjusted as replicas come and go; nil without a rate.
func (d *Dispatcher) rateLimiter() *rate.Limiter {
	if d.limiter != nil && d.replicas != nil {
		// Compared with the limiter's own limit, so that two workers
		// seeing the count change at once agree.
		if share := rate.Limit(d.perSecond / float64(max(1, d.replicas()))); d.limiter.Limit() != share {
			d.limiter.SetLimit(share)
		}
	}
	return d.limiter
}

// waitRate waits until the route's rate allows an attempt. It reports
// false, with a retry, when shutdown ended the wait: the event goes back
// to the channel.
func (d *Dispatcher) waitRate() (Outcome, bool) {
	limiter := d.rateLimiter()
	if limiter == nil {
		return Outcome{}, true
	}
	if err := limiter.Wait(d.waiting); err != nil {
		return Outcome{Verdict: verdict.Retry, Reason: "stopped waiting for the route's rate: " + err.Error()}, false
	}
	return Outcome{}, true
}

// rateAllows waits until the route's rate allows an attempt, if it does
// by deadline; it reports false, having waited for nothing, if it does
// not, or when shutdown ended the wait.
func (d *Dispatcher) rateAllows(deadline time.Time) bool {
	limiter := d.rateLimiter()
	if limiter == nil {
		return true
	}
	now := time.Now()
	r := limiter.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if !r.OK() || now.Add(delay).After(deadline) {
		r.CancelAt(now)
		return false
	}
	if delay == 0 || d.pause(delay) {
		return true
	}
	r.Cancel()
	return false
}

// pause waits for wait, unless shutdown ends the wait first: then it
// reports false.
func (d *Dispatcher) pause(wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-d.waiting.Done():
		return false
	}
}

// retry tries again after a backoff while the outcome of a's last attempt
// is a retry, until delivery.max_attempts or delivery.max_age, then turns
// it into a dead letter. On a backend that can delay, and a route without
// order, the retry goes back to the channel due later, freeing its
// delivery slot; otherwise the dispatcher holds the event while it waits.
// An attempt cut off by shutdown, or one shutdown kept from being made,
// ends it: the event goes back to the channel.
func (d *Dispatcher) retry(ctx context.Context, a *attempt, out Outcome) Outcome {
	policy := d.route.Delivery
	for out.Verdict == verdict.Retry && ctx.Err() == nil {
		if a.attempts >= policy.MaxAttempts || (policy.MaxAge > 0 && time.Since(a.first) >= time.Duration(policy.MaxAge)) {
			d.eventLog(a.event).WarnContext(ctx, "delivery attempts exhausted; dead-lettering the event", "attempt", a.attempts, "reason", out.Reason)
			out.Verdict = verdict.DeadLetter
			return out
		}
		wait := max(backoff(policy.Backoff, a.attempts), out.RetryAfter)
		d.stats.Retried.Add(1)
		d.eventLog(a.event).InfoContext(ctx, "delivery failed; retrying", "attempt", a.attempts, "retry_in", wait, "reason", out.Reason)
		if d.requeue && d.requeueRetry(a, wait) {
			return out
		}
		if !d.pause(wait) {
			return out
		}
		var attempted bool
		if out, attempted = d.try(ctx, a); !attempted {
			return out
		}
	}
	return out
}

// requeueRetry stores the event back on the route's channel, due after
// wait, with its attempt count, and marks a requeued. It reports false
// when the store failed, so the caller holds the event and waits instead.
func (d *Dispatcher) requeueRetry(a *attempt, wait time.Duration) bool {
	md := maps.Clone(a.msg.Metadata)
	md[adapters.MetaAttempts] = strconv.Itoa(a.attempts)
	md[adapters.MetaFirstAttempt] = strconv.FormatInt(a.first.UnixMilli(), 10)
	md[adapters.MetaDeliverAt] = strconv.FormatInt(time.Now().Add(wait).UnixMilli(), 10)
	if err := d.channel.Send(d.attempts, &adapters.Message{Body: a.msg.Body, Metadata: md}); err != nil {
		d.log.Warn("cannot requeue the retry; holding it instead", "err", err)
		return false
	}
	a.requeued = true
	return true
}

// keepRefused keeps an event the target will not take (out is a dead
// letter) on the route's dead-letter channel, with why and when; or drops
// it when the route says dead_letter: false. An event it cannot store is a
// retry, so it goes back to the channel rather than being lost. Any other
// outcome passes as it is.
func (d *Dispatcher) keepRefused(ctx context.Context, a *attempt, out Outcome) Outcome {
	if out.Verdict != verdict.DeadLetter {
		return out
	}
	if !d.route.Delivery.DeadLetters() {
		d.log.WarnContext(ctx, "dropping the event: the route keeps no dead letters", "event_id", a.event.ID(), "reason", out.Reason)
		out.Verdict = verdict.Drop
		return out
	}
	dl := a.event.Clone()
	dl.SetExtension(extDeadLetterReason, out.Reason)
	dl.SetExtension(extDeadLetterRoute, d.route.Name)
	if out.Status != 0 {
		dl.SetExtension(extDeadLetterStatus, out.Status)
	}
	dl.SetExtension(extAttempts, a.attempts)
	dl.SetExtension(extFirstAttempt, a.first)
	dl.SetExtension(extLastAttempt, time.Now())
	m, err := adapters.EncodeEvent(&dl)
	if err != nil {
		d.log.Error("cannot encode the dead letter; the event stays in the channel", "err", err)
		return Outcome{Verdict: verdict.Retry, Reason: err.Error()}
	}
	if err := d.storeDeadLetter(m); err != nil {
		return Outcome{Verdict: verdict.Retry, Reason: err.Error()}
	}
	return out
}

// storeDeadLetter stores m on the dead-letter channel.
func (d *Dispatcher) storeDeadLetter(m *adapters.Message) error {
	if err := d.deadLetter.Send(d.attempts, m); err != nil {
		d.log.Error("cannot store the dead letter; the event goes back to the channel", "err", err)
		return err
	}
	return nil
}
