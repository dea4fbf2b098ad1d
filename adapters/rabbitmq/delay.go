package rabbitmq

import (
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eventbus-go/eventbus/adapters"
)

// delayBuckets are the waits of a channel's delay queues, shortest first.
// Each is a quorum queue with that x-message-ttl whose expired messages
// dead-letter into the channel's exchange. Every message in one queue has
// the same TTL, so the queue expires in the order it was filled and no
// message waits behind a later one (no head-of-line blocking).
var delayBuckets = []time.Duration{
	100 * time.Millisecond,
	time.Second,
	5 * time.Second,
	30 * time.Second,
	2 * time.Minute,
	10 * time.Minute,
	time.Hour,
}

// bucketFor returns the bucket for a message due in d > 0: the longest one
// not past d, so a message is never delivered early; the shortest one when
// d is shorter than every bucket, so it may be late by up to that much.
// A message due after the longest bucket hops through it again.
func bucketFor(d time.Duration) time.Duration {
	b := delayBuckets[0]
	for _, w := range delayBuckets[1:] {
		if w > d {
			break
		}
		b = w
	}
	return b
}

// bucketLabel names a bucket in queue names: "100ms", "5s", "2m", "1h".
func bucketLabel(b time.Duration) string {
	switch {
	case b < time.Second:
		return strconv.FormatInt(b.Milliseconds(), 10) + "ms"
	case b < time.Minute:
		return strconv.FormatInt(int64(b/time.Second), 10) + "s"
	case b < time.Hour:
		return strconv.FormatInt(int64(b/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(b/time.Hour), 10) + "h"
}

// dueIn reads MetaDeliverAt from AMQP headers and says how long until the
// message is due; zero or less means now. A header that is not Unix
// milliseconds counts as due: delivering it beats losing it.
func dueIn(headers amqp.Table, now time.Time) time.Duration {
	v, _ := headers[adapters.MetaDeliverAt].(string)
	return adapters.DueIn(v, now)
}
