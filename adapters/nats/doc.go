// Package nats is the NATS JetStream backend, registered as "nats://" for
// an external server or cluster and "nats+embedded://" for a server inside
// the process, the durable backend `eventbus serve` uses by default.
//
// It is an adapters.Driver, a gocloud.dev/pubsub driver of our own on
// nats.go's jetstream package, declaring Durable and Topics. gocloud's
// natspubsub is not used: it publishes on core NATS, where a message with
// no subscriber at that instant is lost, and has no JetStream pull
// consumers, nack or provisioning.
//
// # Channels
//
// Each channel is a stream of its own, holding one subject, rather than one
// stream with a subject per channel: a stream is the unit JetStream counts,
// purges, deletes, limits and replicates, so Depth, Purge and DeleteChannel
// are each one call on one stream, and a busy channel never makes another
// channel's stream larger. For channel C and the URL's prefix P (default
// "eventbus"), EnsureChannel creates the stream P_C storing the subjects
// P.C and P.C.lane.*, where every '.' of C (such as in "C.dlq", the
// dead-letter channel) becomes '~', which no channel name holds. The stream
// is file-backed, with work-queue retention, so an acked message is
// removed; it has a two-minute duplicate window. Its durable pull consumer
// "eventbus" takes the subject P.C, with explicit acks, an ack wait of
// ack_wait (30 s) and no delivery limit; every subscription of every bus
// replica pulls from it, so they compete for single messages.
//
//   - Send publishes with JetStream and returns once the stream stored the
//     message (the publish ack). Each message carries a Nats-Msg-Id of the
//     event's source and id, its attempt count and its redrive time, so a
//     publish retried after a lost ack is stored once, while a later
//     attempt or a redrive is a new message. A message over
//     MaxMessageBytes is refused with InvalidArgument before it is sent.
//   - A subscription holds at most MaxInflight messages: it keeps a pull
//     request open for the room it has, each lasting a second, answered on
//     an inbox of its own, and hands messages out as they arrive. While it
//     holds a message it tells the server, every third of the ack wait,
//     that the message is in progress, so a delivery the bus holds for a
//     retry or a slow target is never redelivered to another subscriber
//     meanwhile. Nack gives the message back at once.
//   - Close gives back every message still held, then waits for the server
//     to end the subscription's open pull requests (a second at most, two
//     if the server stops answering), giving back at once whatever they
//     still bring, before it stops listening. So once Close returns, every
//     message the server sent the subscription and it did not settle can
//     be received by another subscription at once; none waits out the ack
//     wait. A message whose nak is lost on the way (the connection drops),
//     and the messages of a subscriber that dies without closing, go to
//     the others after the ack wait.
//   - Depth is the stream's message count; messages delivered and not yet
//     acked count. Purge empties the stream; DeleteChannel deletes it, and
//     its consumer with it.
//   - Delivery is bounded by the bus (max_attempts, then the dead-letter
//     channel), not by the consumer: a consumer's delivery limit would leave
//     the message stranded in a work-queue stream.
//
// Ordering (MetaOrderingKey): a message with a key is stored on the
// subject of one of the channel's lanes (option lanes, default 16), P.C.lane.N,
// chosen by a hash of the key. Each lane has a durable consumer,
// "eventbus-lane-N", with MaxAckPending 1: across every subscriber and bus
// replica it hands out one message at a time, in publish order, the next
// only once the previous is acked; a nacked or expired message is
// redelivered before the next. Other lanes, and unkeyed messages, flow
// meanwhile. Keys that hash to the same lane wait for each other. Lane
// consumers are declared by the first subscription opened with
// SubscriptionOptions.Ordered; from then on every subscription of the
// channel pulls from them too (so that events left on the lanes when a
// route stops being ordered are delivered), one message per lane at a
// time; its room is granted to its pulls in turn, and the
// unkeyed pull leaves one message of room per lane. The lane count is
// fixed for the life of a channel, as a key's lane depends on it.
//
// Delay (MetaDeliverAt): a message received before it is due goes back
// to the server with a nak delayed until then (JetStream's NakWithDelay),
// so it waits in the stream, not in the process, and survives a crash; it
// holds back no unkeyed message due sooner. On a lane a message waiting to
// be due holds back the lane's later messages, so per-key order is kept.
// Retries of unordered routes go back to the channel this way.
//
// Capabilities: Durable, Delay, Ordering and Topics. Not DropOldest: a
// work-queue stream cannot tell its oldest waiting message from one in
// flight.
//
// MaxMessageBytes defaults to the server's max_payload less 64 KiB, which
// the header framing needs, since adapters.MessageBytes does not count it:
// 983,040 bytes on a server with the default max_payload of 1 MiB, 4 MiB
// on the embedded server.
//
// # Topics
//
// OpenTopic (topic targets) publishes to the subject named exactly as the
// topic, which belongs to its readers: a core NATS subscriber (nats sub, or
// a plain nats.go subscription) reads it as it is published. A subject
// needs no declaring; if a stream of the readers captures it, Publish goes
// through JetStream and returns once that stream stored the message, and
// otherwise it returns once the server took it (a subject nobody reads
// drops it, as NATS does).
//
// # Wire
//
// Events are in CloudEvents binary content mode: the data is the payload,
// datacontenttype is the content-type header, and every other attribute
// and extension is a header "ce-<name>" with the attribute's canonical
// string. The bus's own metadata (adapters.MetaPrefix, "eventbus-...")
// travels as plain headers of the same name.
//
// # URLs
//
// nats://user:password@host1:4222,host2:4222?option=value, or a token as
// nats://token@host:4222. The client reconnects by itself when the
// connection drops; meanwhile Ping, Send and the Provisioner answer
// Unavailable. Options, all optional:
//
//	prefix=eventbus          names of streams and subjects start with it
//	ack_wait=30s             how long a delivery may go unheard of before
//	                         the server gives it to another subscriber
//	lanes=16                 ordering lanes per channel
//	replicas=1               replicas of every stream (up to the cluster's size)
//	max_message_bytes=N      largest message (see adapters.MessageBytes),
//	                         at most max_payload less 64 KiB
//	creds=FILE               a NATS credentials file (JWT and NKey)
//	ca_file, cert_file, key_file, server_name
//	                         TLS, as adapters.TLSOptions says; any of them
//	                         turns TLS on
//
// nats+embedded://?dir=DIR runs a NATS server with JetStream inside the
// process, storing under DIR (eventbus serve uses DIR = <data-dir>/nats),
// and talks to it in-process: it listens on no network port unless listen
// says, so nothing outside the process reaches it. Close shuts it down.
// Options: prefix, ack_wait, lanes and max_message_bytes as above, and
//
//	dir=DIR                  the store (required)
//	listen=127.0.0.1:4222    also serve NATS clients on this address (the
//	                         nats CLI, or topic readers)
//	sync=always|DURATION     how often the store is fsynced (default 2m)
//
// # What survives what
//
// A stored message is written to the store's files before the publish is
// acked, so it survives the process being killed (kill -9, a crash, an
// out-of-memory kill): the next start on the same directory recovers it.
// It reaches the disk itself when the store syncs, every 2 minutes by
// default; a power loss or kernel crash can lose what was acked since the
// last sync. sync=always syncs every write before the ack, at a cost in
// throughput; a cluster (nats:// with replicas=3) survives the loss of a
// machine instead.
package nats
