package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/adapters/zeromq"
	"github.com/eventbus-go/eventbus/internal/cesource"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/verdict"
)

var _ Target = (*ZeroMQTarget)(nil)

// ZeroMQBlockTimeout bounds how long one attempt of a when_full: block
// target waits for a full subscriber queue.
const ZeroMQBlockTimeout = 10 * time.Second

// ZeroMQTarget publishes each event on a ZeroMQ PUB socket: the topic
// frame, then the event in structured mode (CloudEvents JSON). Queued for
// every matching subscriber acks; with when_full: drop, a subscriber whose
// queue is full misses it, counted in SubscriberDrops and logged; with
// block, an attempt waits at most ZeroMQBlockTimeout for room, then
// retries (the subscribers queued before the stalled one get it again).
// The bound keeps a stalled subscriber from holding a route's replacement
// or the bus's shutdown for longer than that.
type ZeroMQTarget struct {
	Pub      *zeromq.Publisher
	Options  router.ZeroMQTopic // with defaults
	Route    string
	Counters *Counters
	Log      *slog.Logger
}

func (t *ZeroMQTarget) Deliver(ctx context.Context, e *event.Event) Outcome {
	body, err := e.MarshalJSON()
	if err != nil {
		return Outcome{Verdict: verdict.DeadLetter, Reason: "encoding the event as CloudEvents JSON: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, ZeroMQBlockTimeout)
	defer cancel()
	dropped, err := t.Pub.Publish(ctx, t.Options.Frame(e.Type(), cesource.Of(e), e.Subject()), body)
	if dropped > 0 {
		t.Counters.SubscriberDrops.Add(int64(dropped))
		t.Log.Warn("ZeroMQ subscribers missed an event: their queue was full (when_full: drop)",
			"route", t.Route, "event_id", e.ID(), "subscribers", dropped, "hwm", t.Options.HWM)
	}
	if err != nil {
		return Outcome{Verdict: verdict.Retry, Reason: err.Error()}
	}
	return Outcome{Verdict: verdict.Ack}
}
