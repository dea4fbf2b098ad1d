package bus

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"gocloud.dev/pubsub"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
)

// MaxDeadLetterPage bounds one page of GET /v1/routes/{name}/dlq.
const MaxDeadLetterPage = 1000

// browseWait is how long a dead-letter read waits for a message the depth
// says is there (it may be in flight to another reader).
const browseWait = 2 * time.Second

// deadLetterWalk receives up to n messages of a route's dead-letter channel
// and calls visit for each; visit says whether to keep the message (nack)
// or remove it (ack). Backends keep the order of nacked messages, so a walk
// that keeps everything leaves the channel as it was.
func (lr *liveRoute) deadLetterWalk(ctx context.Context, n int, visit func(m *pubsub.Message) (keep bool, err error)) error {
	channel := lr.route.Name + router.DeadLetterSuffix
	sub, err := lr.backend.OpenSubscription(ctx, channel, adapters.SubscriptionOptions{MaxInflight: max(n, 1)})
	if err != nil {
		return err
	}
	var kept []*pubsub.Message
	defer func() {
		for _, m := range kept {
			m.Nack()
		}
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sub.Shutdown(shutCtx)
	}()
	for range n {
		recvCtx, cancel := context.WithTimeout(ctx, browseWait)
		m, err := sub.Receive(recvCtx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return nil // fewer than the depth said: someone else took them
		}
		keep, err := visit(m)
		if err != nil {
			m.Nack()
			return err
		}
		if keep {
			kept = append(kept, m)
		} else {
			m.Ack()
		}
	}
	return nil
}

// DeadLetters lists up to limit dead letters of a route, after skipping
// offset, with the total waiting.
func (b *Bus) DeadLetters(ctx context.Context, route string, offset, limit int) ([]*event.Event, int64, error) {
	lr, err := b.liveRoute(route)
	if err != nil {
		return nil, 0, err
	}
	total, err := lr.backend.Depth(ctx, route+router.DeadLetterSuffix)
	if err != nil {
		return nil, 0, err
	}
	if offset >= int(total) {
		return []*event.Event{}, total, nil
	}
	var events []*event.Event
	i := 0
	err = lr.deadLetterWalk(ctx, min(int(total), offset+limit), func(m *pubsub.Message) (bool, error) {
		if i >= offset {
			e, err := adapters.DecodeEvent(m)
			if err != nil {
				return true, fmt.Errorf("dead letter %s: %w", m.LoggableID, err)
			}
			events = append(events, e)
		}
		i++
		return true, nil
	})
	if events == nil {
		events = []*event.Event{}
	}
	return events, total, err
}

// Redrive puts a route's dead letters back on its channel for another round
// of attempts: all of them, or those whose id is in ids. It returns how many.
func (b *Bus) Redrive(ctx context.Context, route string, ids []string) (int, error) {
	lr, err := b.liveRoute(route)
	if err != nil {
		return 0, err
	}
	total, err := lr.backend.Depth(ctx, route+router.DeadLetterSuffix)
	if err != nil {
		return 0, err
	}
	wanted := map[string]bool{}
	for _, id := range ids {
		wanted[id] = true
	}
	redriven := 0
	err = lr.deadLetterWalk(ctx, int(total), func(m *pubsub.Message) (bool, error) {
		e, err := adapters.DecodeEvent(m)
		if err != nil {
			return true, nil // not an event: leave it for a human
		}
		if len(wanted) > 0 && !wanted[e.ID()] {
			return true, nil
		}
		md := maps.Clone(m.Metadata)
		for _, ext := range []string{extDeadLetterReason, extDeadLetterRoute, extDeadLetterStatus, extAttempts, extFirstAttempt, extLastAttempt} {
			delete(md, ext)
		}
		for _, meta := range []string{adapters.MetaAttempts, adapters.MetaFirstAttempt, adapters.MetaDeliverAt} {
			delete(md, meta)
		}
		md[adapters.MetaRedrivenAt] = strconv.FormatInt(time.Now().UnixMilli(), 10)
		if !lr.admission.tryAcquire() {
			return true, errcode.Errorf(errcode.ResourceExhausted, "route %s is full (max_depth %d): redrove %d, the rest stay dead letters", route, lr.route.Delivery.MaxDepth, redriven)
		}
		if err := lr.topic.Send(ctx, &pubsub.Message{Body: m.Body, Metadata: md}); err != nil {
			lr.admission.release()
			return true, err
		}
		redriven++
		return false, nil
	})
	return redriven, err
}
