// Package sqs is the Amazon SQS backend, registered as "sqs://": each
// route's channel is a queue with a redrive policy to a dead-letter queue
// beside it; FIFO queues when the URL says fifo=true.
//
// It is an adapters.Driver, a gocloud.dev/pubsub driver of our own on
// aws-sdk-go-v2, declaring Topics and not DropOldest. It is not
// gocloud's awssnssqs, because that driver does not keep the delivery
// contract the bus needs: it declares no queues or redrive policies, cannot
// nack with a delay or hold a message until a due time, does not extend the
// visibility of a message a slow target is still working on, sets no FIFO
// group or deduplication id from the event, and puts the event's attributes
// in message attributes, of which SQS allows only 10. Here:
//
//   - Events travel in CloudEvents structured content mode: the body is the
//     event as JSON (data that is JSON stays JSON, text a string, anything
//     else data_base64), read by any CloudEvents SDK's JSON format. The
//     bus's own metadata (adapters.MetaPrefix, "eventbus-...") travels as
//     String message attributes, beside content-type
//     "application/cloudevents+json; charset=utf-8".
//   - Every SQS request is a round trip for up to ten messages, so the
//     driver declares Batching of ten: adapters.Backend gathers concurrent
//     Sends into one SendMessageBatch (returning once SQS stored them),
//     receives ten at a time, and acks into DeleteMessageBatch. max_message_bytes (default 720 KiB) is chosen so the
//     structured encoding of any event it admits, data in base64, fits SQS's
//     1 MiB; a larger one is refused with InvalidArgument.
//   - Subscriptions long-poll (1 s), hold at most SubscriptionOptions.
//     MaxInflight messages unsettled, and extend the visibility of every
//     message they hold every third of visibility_timeout until it is acked
//     (deleted), nacked (made visible again at once) or the subscription
//     closes, which makes every message it still holds visible again.
//   - Delay: a message with adapters.MetaDeliverAt is sent with DelaySeconds
//     (rounded up, at most 15 minutes) on a standard queue; one received
//     before it is due, on either kind of queue, is hidden again until then
//     (at most 12 hours at a time) rather than handed out. Each such hop
//     counts as a receive against max_receive_count.
//   - Ordering (fifo=true only): the ordering key is the MessageGroupId;
//     an unkeyed event gets a group of its own so it does not wait behind
//     others. SQS hands out a group's next message only once the one before
//     is deleted or visible again; when one receive returns several of a
//     group, the subscription hands out the first and holds the rest until
//     it is acked, and a nack gives the held ones back with it. The
//     deduplication id is a hash of the event's source and id and the bus's
//     metadata (attempts, due time, …): a retry the bus re-sends is a new
//     message, a repeated send of the same one within SQS's 5 minutes is
//     dropped by SQS.
//
// EnsureChannel creates, for channel C and the URL's prefix P (default
// "eventbus-"), the queue of C.dlq, then the queue of C with a redrive
// policy moving a message to it after max_receive_count receives (default
// 50): a safety net under the bus's own max_attempts, which dead-letters
// first. Queue names allow letters, digits, '-' and '_' in 80 characters:
// a channel name with other characters, such as C.dlq, or too long, gets
// them replaced by '-' and 8 hex digits of its hash appended
// ("eventbus-orders-dlq-1a2b3c4d"); FIFO queue names end in ".fifo". Depth is
// SQS's approximate count of visible and delayed messages (not those in
// flight); Purge is PurgeQueue, which SQS allows once a minute per queue and
// which removes messages in flight too.
//
// URL: sqs://?region=eu-west-1 for SQS itself, with the default credential
// chain; sqs://HOST:PORT?region=us-east-1 for an endpoint of one's own (an
// emulator), over http unless endpoint=https, with credentials from
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or else placeholders. Options:
//
//	region=us-east-1           required unless AWS_REGION or a profile sets it
//	endpoint=http              scheme of the HOST:PORT endpoint: http or https
//	fifo=false                 FIFO queues, and Capabilities.Ordering
//	prefix=eventbus-           names of queues start with it
//	visibility_timeout=30      seconds a received message stays hidden between extensions
//	max_receive_count=50       receives before SQS moves a message to the dead-letter queue
//	max_message_bytes=737280   largest message (see adapters.MessageBytes)
package sqs
