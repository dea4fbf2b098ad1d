package activemq

import (
	"context"
	"time"

	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// topic sends to one destination: a channel's queue, or a topic target's
// queue or topic.
type topic struct {
	adapters.DriverDefaults
	d       *Driver
	dest    string
	name    string // the channel or topic, for errors
	channel bool   // a channel: deleting it makes sends answer NotFound
}

var _ driver.Topic = (*topic)(nil)

func (t *topic) what() string {
	if t.channel {
		return "channel"
	}
	return "topic"
}

// SendBatch sends each message persistent and waits for the broker's
// RECEIPT, which ActiveMQ gives once the message is stored.
func (t *topic) SendBatch(ctx context.Context, ms []*driver.Message) error {
	for _, m := range ms {
		if n := adapters.MessageBytes(m.Body, m.Metadata); n > t.d.opts.maxMessageBytes {
			return errcode.Errorf(errcode.InvalidArgument, "activemq %s %q: the message is %d bytes, over the limit of %d bytes: send a smaller event", t.what(), t.name, n, t.d.opts.maxMessageBytes)
		}
		if t.channel && t.d.isDeleted(t.name) {
			return errcode.Errorf(errcode.NotFound, "activemq: send to %q: the channel was deleted (was its route deleted?)", t.name)
		}
		c, err := t.d.sender(ctx)
		if err != nil {
			return err
		}
		if err := c.Send(ctx, sendHeaders(t.dest, m.Metadata, time.Now()), m.Body); err != nil {
			return t.d.wrap(err, "send to "+t.what(), t.name)
		}
	}
	return nil
}

// Close has nothing to release: sends share the driver's connections.
func (*topic) Close() error { return nil }
