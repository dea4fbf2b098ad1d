// Package rabbitmq is the RabbitMQ backend, registered as "rabbit://": each
// route's channel is a durable quorum queue, fed by an exchange of its own,
// with a dead-letter queue beside it.
//
// It is an adapters.Driver, a gocloud.dev/pubsub driver of our own on
// amqp091-go, declaring Topics (OpenTopic, below) and not DropOldest. It is
// not gocloud's rabbitpubsub, because that driver does not keep the
// delivery contract the bus needs: it publishes non-persistent messages,
// declares no topology, requeues nacked messages forever, does not cancel
// its consumer on Shutdown and polls every 50 ms when idle. Here:
//
//   - Messages are persistent and publisher confirms are pipelined: many
//     messages are in flight on one AMQP channel, and Send returns only once
//     the broker confirmed the message. A message the broker nacks fails with
//     ResourceExhausted; one it returns as unroutable (mandatory publish)
//     fails with NotFound. A message over max_message_bytes is refused with
//     InvalidArgument before it is sent.
//   - Each subscription has its own AMQP channel with a prefetch (Qos) of
//     SubscriptionOptions.MaxInflight, the URL's prefetch unless the route
//     says (declared as Batching.MaxInflight); deliveries are pushed, never
//     polled. Nothing is batched: publishes pipeline by themselves.
//     Shutdown cancels the consumer and closes its channel, so every
//     unacked message goes back to the queue.
//   - When the connection drops, Ping, Send and the Provisioner answer
//     Unavailable while the backend redials with backoff; topics and
//     subscriptions carry on over the new connection without being reopened.
//     Acks for deliveries of a channel that died are not sent (the broker
//     redelivers those messages), so nothing is acked twice or on the wrong
//     channel. Retrying a failed publish is the bus's decision, not the
//     driver's.
//
// EnsureChannel declares, for channel C and the URL's prefix P (default
// "eventbus."): a durable fanout exchange P+C; a durable quorum queue P+C
// bound to it, with x-dead-letter-exchange P+C.dlq and x-delivery-limit (so
// redelivery is bounded); a durable fanout exchange P+C.dlq and a quorum
// queue P+C.dlq bound to it; and the delay queues P+C:delay:<bucket>. The
// dead-letter queue is itself a channel: EnsureChannel (which declares it
// alone), Depth, Purge, OpenChannel and OpenSubscription accept "C.dlq".
// DeleteChannel deletes everything of C. The ':' in the names of delay
// queues and lanes cannot occur in a route name, so no two channels share a
// queue.
//
// Delay (MetaDeliverAt) without head-of-line blocking, and without a
// broker plugin: each channel has one quorum queue per delay bucket (100ms,
// 1s, 5s, 30s, 2m, 10m, 1h) with that x-message-ttl, dead-lettering
// (at-least-once) into the channel's exchange. A message due in d is
// published to the longest bucket not past d; when it comes out into the
// channel's queue still early, the subscription parks it again in the
// bucket for what is left (the shortest bucket when less than 100 ms is
// left) and acks it. A message is never delivered before it is due and
// usually less than 100 ms after. Since every message of a bucket has the
// same TTL, none waits behind another.
//
// Ordering (MetaOrderingKey): a message with a key goes to one of the
// channel's lanes (option lanes, default 16), chosen by a hash of the key.
// A lane is a quorum queue with x-single-active-consumer, consumed with a
// prefetch of one: across every subscriber and bus replica, one lane hands
// out one message at a time, in publish order, the next only once the
// previous is settled (a nacked message goes back to the lane's head).
// Other lanes, and unkeyed messages, flow meanwhile. Keys that hash to the
// same lane wait for each other; more lanes make that rarer. A keyed
// message due later waits at its lane's head, holding the lane. Lanes are
// declared when first used: by a topic publishing a keyed message, and by
// a subscription opened with SubscriptionOptions.Ordered, which alone
// consumes them. Channels that never see a key cost no lane queues.
//
// OpenTopic (topic targets) publishes to a durable topic exchange
// named exactly as the topic, which belongs to its readers: the backend
// declares it if it is missing, uses an existing exchange of any type as
// it is, and binds or deletes nothing. Messages are persistent and
// confirmed but not mandatory, so a topic nobody reads yet still takes
// them; the routing key is the event's type, so readers can bind to
// patterns such as "order.#".
//
// On the wire, events are in CloudEvents binary content mode per the
// CloudEvents AMQP binding: the data is the message body, datacontenttype is
// the AMQP content-type property, and every other attribute and extension is
// a header (application property) "cloudEvents:<name>" whose value is the
// attribute's canonical string, so a time keeps its nanoseconds (AMQP 0-9-1
// timestamps have whole seconds). Headers written by other CloudEvents SDKs
// with typed values, or with the "cloudEvents_" prefix, are read too. The
// bus's own metadata (adapters.MetaPrefix, "eventbus-...") travels as plain
// headers of the same name.
//
// Capabilities: Durable, Delay and Ordering, as described above.
//
// URL: rabbit://user:password@host:port/vhost?option=value. The path is the
// vhost ("/" or none for the default vhost "/"). Options, all optional:
//
//	prefix=eventbus.           names of everything declared start with it
//	prefetch=16                MaxInflight of a subscription that sets none
//	delivery_limit=20          x-delivery-limit of every channel's queue
//	max_message_bytes=4194304  largest message (see adapters.MessageBytes)
//	lanes=16                   ordering lanes per channel; fixed for the
//	                           life of a channel, as a key's lane depends on it
package rabbitmq
