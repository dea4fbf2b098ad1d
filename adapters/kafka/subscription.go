package kafka

import (
	"context"
	"strconv"

	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/internal/wakeup"
)

// subscription takes records from its channel's reader, at most prefetch
// of them unacked at once.
type subscription struct {
	adapters.DriverDefaults
	r        *reader
	prefetch int
	owned    int  // guarded by r.mu
	closed   bool // guarded by r.mu; a closed subscription takes nothing
	// roomFreed wakes receivers that wait because owned reached prefetch;
	// guarded by r.mu.
	roomFreed wakeup.Signal
}

var _ driver.Subscription = (*subscription)(nil)

// ReceiveBatch waits until a record is ready and this subscription is
// below its prefetch, for at most receiveWait.
func (s *subscription) ReceiveBatch(ctx context.Context, maxMessages int) ([]*driver.Message, error) {
	taken, err := s.r.take(ctx, s, maxMessages, receiveWait)
	if err != nil || len(taken) == 0 {
		return nil, err
	}
	out := make([]*driver.Message, len(taken))
	for i, m := range taken {
		id := m.md["id"]
		if id == "" {
			id = m.rec.Topic + "/" + strconv.Itoa(int(m.rec.Partition)) + "@" + strconv.FormatInt(m.rec.Offset, 10)
		}
		out[i] = &driver.Message{
			LoggableID: id,
			Body:       m.rec.Value,
			Metadata:   m.md,
			AckID:      m,
			AsFunc:     func(any) bool { return false },
		}
	}
	return out, nil
}

func (s *subscription) SendAcks(_ context.Context, ids []driver.AckID) error {
	s.r.settle(s, records(ids), true)
	return nil
}

func (s *subscription) CanNack() bool { return true }

// SendNacks gives the records back at the head of their lanes, so they are
// delivered again before anything behind them with the same key.
func (s *subscription) SendNacks(_ context.Context, ids []driver.AckID) error {
	s.r.settle(s, records(ids), false)
	return nil
}

func records(ids []driver.AckID) []*record {
	ms := make([]*record, len(ids))
	for i, id := range ids {
		ms[i] = id.(*record)
	}
	return ms
}

// Close gives back every record the subscription still owns, so another
// subscriber receives it, and leaves the group with the last subscription
// on the channel. It may be called twice.
func (s *subscription) Close() error {
	if s.r.release(s) {
		s.r.b.release(s.r)
	}
	return nil
}
