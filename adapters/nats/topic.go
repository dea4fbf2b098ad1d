package nats

import (
	"context"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// flushTimeout bounds the wait for the server to take core NATS publishes.
const flushTimeout = 30 * time.Second

// topic publishes to one subject: a channel's, through JetStream, or a
// topic's, through JetStream when a stream captures it and as a core NATS
// publish otherwise.
type topic struct {
	adapters.DriverDefaults
	d       *Driver
	subject string
	stream  string // the stream that stores the subject; "" for none
	name    string // the channel or topic, for errors
	what    string // "channel" or "topic"
	lanes   int    // a channel's ordering lanes; 0 for a topic
}

var _ driver.Topic = (*topic)(nil)

// SendBatch publishes each message and waits for the stream's ack, with a
// Nats-Msg-Id so that a publish retried after a lost ack is stored once.
// Without a stream it publishes and flushes, which returns once the server
// has the messages.
func (t *topic) SendBatch(ctx context.Context, ms []*driver.Message) error {
	for _, m := range ms {
		if n := adapters.MessageBytes(m.Body, m.Metadata); n > t.d.opts.maxMessageBytes {
			return errcode.Errorf(errcode.InvalidArgument, "nats %s %q: the message is %d bytes, over the limit of %d bytes: send a smaller event", t.what, t.name, n, t.d.opts.maxMessageBytes)
		}
		subject := t.subject
		if key := m.Metadata[adapters.MetaOrderingKey]; key != "" && t.lanes > 0 {
			subject += ".lane." + strconv.Itoa(laneOf(key, t.lanes))
		}
		msg := toMsg(subject, m.Body, m.Metadata)
		if t.stream == "" {
			if err := t.d.nc.PublishMsg(msg); err != nil {
				return t.d.wrap(err, "publish to "+t.what, t.name)
			}
			continue
		}
		opts := []jetstream.PublishOpt{jetstream.WithExpectStream(t.stream)}
		if id := msgID(m.Metadata); id != "" {
			opts = append(opts, jetstream.WithMsgID(id))
		}
		if _, err := t.d.js.PublishMsg(ctx, msg, opts...); err != nil {
			return t.d.wrap(err, "publish to "+t.what, t.name)
		}
	}
	if t.stream == "" {
		ctx, cancel := context.WithTimeout(ctx, flushTimeout) // Flush needs a deadline
		defer cancel()
		if err := t.d.nc.FlushWithContext(ctx); err != nil {
			return t.d.wrap(err, "publish to "+t.what, t.name)
		}
	}
	return nil
}

// Close has nothing to release: topics share the driver's connection.
func (*topic) Close() error { return nil }
