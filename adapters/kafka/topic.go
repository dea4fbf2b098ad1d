package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// topic produces to one Kafka topic through the backend's shared producer:
// idempotent, acks from every in-sync replica.
type topic struct {
	adapters.DriverDefaults
	b       *Driver
	channel string // for errors: the channel, or the topic target's name
	name    string // the Kafka topic
}

var _ driver.Topic = (*topic)(nil)

// SendBatch produces every message and returns once the brokers stored
// them all.
func (t *topic) SendBatch(ctx context.Context, ms []*driver.Message) error {
	for _, m := range ms {
		if n := adapters.MessageBytes(m.Body, m.Metadata); n > t.b.opts.maxMessageBytes {
			return errcode.Errorf(errcode.InvalidArgument, "channel %q: message of %d bytes is over the limit of %d bytes (max_message_bytes): make the event smaller", t.channel, n, t.b.opts.maxMessageBytes)
		}
	}
	for _, m := range ms {
		if m.BeforeSend != nil {
			if err := m.BeforeSend(func(any) bool { return false }); err != nil {
				return err
			}
		}
	}
	recs := make([]*kgo.Record, len(ms))
	for i, m := range ms {
		recs[i] = toRecord(t.name, m.Body, m.Metadata)
	}
	if err := t.b.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return t.b.fail(t.channel, "publish", err)
	}
	return nil
}

// Close has nothing to release: the producer belongs to the backend.
func (*topic) Close() error { return nil }
