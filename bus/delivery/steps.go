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
	"github.com/eventbus-go/eventbus/transform"
	"github.com/eventbus-go/eventbus/verdict"
)

// A route's delivery policy is a chain of steps around one attempt at its
// target: each step is a deliverFunc wrapping the next, and changes the
// outcome or acts on it. From the outside in: dead letters (store what is
// refused or exhausted), transform (reshape the event, once), retry (wait
// and try again, or requeue), rate (pace the attempts), with tracing on a
// span per attempt, recording in the event history (history.go), then the
// attempt itself.

// attempt is one received event on its way through the steps.
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
	// requeued: the retry step stored a new copy on the channel, due
	// later; this one only needs an ack.
	requeued bool
	// recorded is the state the last attempt left the event in, as the
	// history has it; "" before any.
	recorded history.State
}

// deliverFunc delivers an event and says what became of it.
type deliverFunc func(ctx context.Context, a *attempt) Outcome

// step wraps a deliverFunc in one piece of policy.
type step func(next deliverFunc) deliverFunc

// chain wraps deliver in steps, the first outermost.
func chain(deliver deliverFunc, steps ...step) deliverFunc {
	for i := len(steps) - 1; i >= 0; i-- {
		deliver = steps[i](deliver)
	}
	return deliver
}

// attempt makes one delivery attempt at the target. An attempt cut off by
// shutdown is a retry, which no step waits out: the event goes back to the
// channel for the next process.
func (d *Dispatcher) attempt(ctx context.Context, a *attempt) Outcome {
	if a.first.IsZero() {
		a.first = time.Now()
	}
	a.attempts++
	out := d.target.Deliver(ctx, cmp.Or(a.sent, a.event))
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

// transforming reshapes the event with the route's transform before its
// first attempt; its retries send the same result. A transform that makes
// no event drops it; one that fails dead-letters the event as stored, with
// the reason, so a redrive after the route's transform is fixed sends it
// through the new one.
func (d *Dispatcher) transforming(program *transform.Program) step {
	return func(next deliverFunc) deliverFunc {
		return func(ctx context.Context, a *attempt) Outcome {
			sent, err := program.Apply(ctx, a.event)
			switch {
			case err != nil:
				d.eventLog(a.event).Warn("the route's transform failed; dead-lettering the event", "reason", err)
				return Outcome{Verdict: verdict.DeadLetter, Reason: err.Error()}
			case sent == nil:
				return Outcome{Verdict: verdict.Drop, Reason: "the route's transform made no event"}
			}
			a.sent = sent
			return next(ctx, a)
		}
	}
}

// traced records each attempt as a span in the event's trace, ending with
// its verdict; the target receives the span's trace context.
func (d *Dispatcher) traced(next deliverFunc) deliverFunc {
	return func(ctx context.Context, a *attempt) Outcome {
		ctx, span := d.tracer.Start(ctx, "deliver "+d.route.Name,
			trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(
				attribute.String("eventbus.route", d.route.Name),
				attribute.String("cloudevents.event_id", a.event.ID()),
				attribute.String("cloudevents.event_source", a.source),
			))
		defer span.End()
		out := next(ctx, a)
		span.SetAttributes(attribute.Int("eventbus.attempt", a.attempts), attribute.String("eventbus.verdict", out.Verdict.String()))
		if out.Status != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", out.Status))
		}
		if out.Verdict != verdict.Ack {
			span.SetStatus(codes.Error, out.Reason)
		}
		return out
	}
}

// rateLimited paces attempts to perSecond, shared with the other replicas
// that replicas counts (nil: none) and adjusted as they come and go.
// Waiting ends at shutdown, with a retry: the event goes back to the
// channel.
func (d *Dispatcher) rateLimited(perSecond float64, replicas func() int) step {
	limiter := rate.NewLimiter(rate.Limit(perSecond), 1)
	return func(next deliverFunc) deliverFunc {
		return func(ctx context.Context, a *attempt) Outcome {
			if replicas != nil {
				// Compared with the limiter's own limit, so that two
				// workers seeing the count change at once agree.
				if share := rate.Limit(perSecond / float64(max(1, replicas()))); limiter.Limit() != share {
					limiter.SetLimit(share)
				}
			}
			if err := limiter.Wait(d.waiting); err != nil {
				return Outcome{Verdict: verdict.Retry, Reason: "stopped waiting for the route's rate: " + err.Error()}
			}
			return next(ctx, a)
		}
	}
}

// retrying tries again after a backoff while the outcome is a retry, until
// delivery.max_attempts or delivery.max_age, then turns it into a dead
// letter. On a backend that can delay, and a route without order, the
// retry goes back to the channel due later, freeing its delivery slot;
// otherwise the dispatcher holds the event while it waits.
func (d *Dispatcher) retrying(next deliverFunc) deliverFunc {
	policy := d.route.Delivery
	return func(ctx context.Context, a *attempt) Outcome {
		for {
			made := a.attempts
			out := next(ctx, a)
			// No attempt was made (shutdown ended the wait for the rate), or
			// shutdown cut it off: the event goes back to the channel.
			if out.Verdict != verdict.Retry || a.attempts == made || ctx.Err() != nil {
				return out
			}
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
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-d.waiting.Done():
				timer.Stop()
				return out
			}
		}
	}
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

// deadLettering keeps an event the target will not take on the route's
// dead-letter channel, with why and when; or drops it when the route says
// dead_letter: false. An event it cannot store is a retry, so it goes back
// to the channel rather than being lost.
func (d *Dispatcher) deadLettering(next deliverFunc) deliverFunc {
	return func(ctx context.Context, a *attempt) Outcome {
		out := next(ctx, a)
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
}

// storeDeadLetter stores m on the dead-letter channel.
func (d *Dispatcher) storeDeadLetter(m *adapters.Message) error {
	if err := d.deadLetter.Send(d.attempts, m); err != nil {
		d.log.Error("cannot store the dead letter; the event goes back to the channel", "err", err)
		return err
	}
	return nil
}
