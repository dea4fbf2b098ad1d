// Package rabbitmq is the RabbitMQ backend, registered as "rabbit://": each
// route's channel is a durable quorum queue, fed by an exchange of its own,
// with a dead-letter queue beside it.
//
// It is a gocloud.dev/pubsub driver of our own on amqp091-go, not gocloud's
// rabbitpubsub, because that driver does not keep the delivery contract the
// bus needs: it publishes non-persistent messages, declares no topology,
// requeues nacked messages forever, does not cancel its consumer on Shutdown
// and polls every 50 ms when idle. Here:
//
//   - Messages are persistent and publisher confirms are pipelined: many
//     messages are in flight on one AMQP channel, and Send returns only once
//     the broker confirmed the message. A message the broker nacks fails with
//     ResourceExhausted; one it returns as unroutable (mandatory publish)
//     fails with NotFound. A message over max_message_bytes is refused with
//     InvalidArgument before it is sent.
//   - Each subscription has its own AMQP channel with a prefetch (Qos) of
//     SubscriptionOptions.MaxInflight; deliveries are pushed, never polled.
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
// queue P+C.dlq bound to it. The dead-letter queue is itself a channel: Depth,
// Purge and OpenSubscription accept "C.dlq". Channel names ending in ".dlq"
// cannot be ensured. DeleteChannel deletes all four.
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
// Capabilities: Durable; no Delay and no Ordering yet (the bus fills those
// gaps or refuses the route).
//
// URL: rabbit://user:password@host:port/vhost?option=value. The path is the
// vhost ("/" or none for the default vhost "/"). Options, all optional:
//
//	prefix=eventbus.           names of everything declared start with it
//	prefetch=16                MaxInflight of a subscription that sets none
//	delivery_limit=20          x-delivery-limit of every channel's queue
//	max_message_bytes=4194304  largest message (see adapters.MessageBytes)
package rabbitmq
