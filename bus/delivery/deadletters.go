package delivery

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/bus/history"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
)

// browseWait is how long a dead-letter read waits for a message the depth
// says is there (it may be in flight to another reader).
const browseWait = 2 * time.Second

// deadLetterWalk receives up to n messages of a route's dead-letter channel
// and calls visit for each; visit says whether to keep the message (nack)
// or remove it (ack). Backends keep the order of nacked messages, so a walk
// that keeps everything leaves the channel as it was.
func deadLetterWalk(ctx context.Context, be *adapters.Backend, route string, n int, visit func(m *adapters.Received) (keep bool, err error)) error {
	channel := route + router.DeadLetterSuffix
	sub, err := be.OpenSubscription(ctx, channel, adapters.SubscriptionOptions{MaxInflight: max(n, 1)})
	if err != nil {
		return err
	}
	var kept []*adapters.Received
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

// DeadLetters lists up to limit dead letters of a route on be, after
// skipping offset, with the total waiting.
func DeadLetters(ctx context.Context, be *adapters.Backend, route string, offset, limit int) ([]*event.Event, int64, error) {
	total, err := be.Depth(ctx, route+router.DeadLetterSuffix)
	if err != nil {
		return nil, 0, err
	}
	if offset >= int(total) {
		return []*event.Event{}, total, nil
	}
	var events []*event.Event
	i := 0
	err = deadLetterWalk(ctx, be, route, min(int(total), offset+limit), func(m *adapters.Received) (bool, error) {
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

// Redrive puts the dead letters of r (on be) back on its channel, ch,
// for another round of attempts: all of them, or those whose id is in ids.
// Each takes room on the route; it stops when there is none. It returns
// how many it put back, and marks each in hist (which may be nil).
func Redrive(ctx context.Context, be *adapters.Backend, ch *adapters.Channel, room Room, r router.Route, ids []string, hist *history.History) (int, error) {
	route := r.Name
	total, err := be.Depth(ctx, route+router.DeadLetterSuffix)
	if err != nil {
		return 0, err
	}
	wanted := map[string]bool{}
	for _, id := range ids {
		wanted[id] = true
	}
	redriven := 0
	err = deadLetterWalk(ctx, be, route, int(total), func(m *adapters.Received) (bool, error) {
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
		if !room.TryAcquire() {
			return true, errcode.Errorf(errcode.ResourceExhausted, "route %s is full (max_depth %d): redrove %d, the rest stay dead letters", route, r.Delivery.MaxDepth, redriven)
		}
		// Marked before it is sent: its next attempt may be recorded
		// before Send returns.
		undo := hist.Redriven(r.Bus, storedSource(m.Metadata, e), e.ID(), route)
		if err := ch.Send(ctx, &adapters.Message{Body: m.Body, Metadata: md}); err != nil {
			room.Release()
			undo() // still a dead letter, not redriven
			return true, err
		}
		redriven++
		return false, nil
	})
	return redriven, err
}
