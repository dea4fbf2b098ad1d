// Package activemq is the ActiveMQ Classic backend, registered as
// "activemq://" and "stomp://": it speaks STOMP 1.2 to the broker's STOMP
// connector, with a client of its own (package stomp beside it), since STOMP is the
// protocol every ActiveMQ build has (Debian's lacks AMQP 1.0).
//
// It is an adapters.Driver declaring Durable, Delay, Ordering and Topics.
//
// # Channels
//
// Channel C is the queue "<prefix>.C" (prefix "eventbus" unless the URL
// says), its dead-letter channel C.dlq the queue "<prefix>.C.dlq": dead
// letters are the bus's own, moved there after a route's max_attempts, not
// ActiveMQ.DLQ. STOMP can neither declare nor delete a queue, so which
// channels exist is kept in the broker itself, in the catalog queue
// "<prefix>-channels": one persistent message per channel, with the
// property eventbusChannel naming it. EnsureChannel adds it; OpenChannel,
// OpenSubscription, Depth and Purge browse the catalog and answer NotFound
// for a channel it does not list.
//
//   - Send is a persistent SEND with a receipt; it returns once the broker's
//     RECEIPT came, which ActiveMQ sends once KahaDB stored the message.
//     Sends take the driver's connections (option connections, default 4)
//     in turn and are pipelined on each: ActiveMQ stores one connection's
//     persistent sends one after another, each waiting for its journal
//     write, while sends on several connections share journal writes. A message over
//     MaxMessageBytes is refused with InvalidArgument before it is sent.
//   - A subscription has a connection of its own and subscribes with
//     ack:client-individual and activemq.prefetchSize = MaxInflight, so it
//     holds at most that many messages. Ack is an ACK frame. Nack gives
//     the message back to the same subscription, first in line: ActiveMQ
//     answers a STOMP NACK by moving the message to ActiveMQ.DLQ at once,
//     and when to give up is the bus's decision (it counts attempts in
//     eventbus-attempts). Closing the subscription, or losing its
//     connection, hands every unacked message back to the broker, which
//     delivers it again (marked redelivered).
//   - Depth browses the queue: messages delivered and not yet acked count,
//     messages still scheduled for later do not, and a browse sees at most
//     the broker's maxBrowsePageSize messages (400 unless its destination
//     policy raises it). The statistics plugin is not used: Debian's build
//     cannot send its reply over STOMP (it needs XStream).
//   - Purge takes every message the broker hands out until the queue is
//     quiet for 250 ms; messages a subscriber holds and messages scheduled
//     for later stay.
//   - DeleteChannel ends this driver's subscriptions of the channel (their
//     receives answer NotFound), drains the queue and removes the channel
//     from the catalog; sends through channels this driver opened answer
//     NotFound. The empty queue stays in the broker until the broker
//     discards it (gcInactiveDestinations) or restarts.
//
// Delay: a message with MetaDeliverAt in the future is sent with
// AMQ_SCHEDULED_DELAY, and the broker's scheduler holds it until then; the
// broker needs schedulerSupport="true" (without it the message goes out at
// once).
//
// Ordering: a message with MetaOrderingKey is in the message group
// (JMSXGroupID) of its key. The broker hands every message of a group to
// the one consumer it picked, in order (another, when that consumer
// goes); the subscription holds a key's next message back until the one
// out is acked, so a key has one message in flight across every
// subscriber.
//
// # Topics
//
// OpenTopic (topic targets) sends to the destination the topic names:
// "/queue/N" or "/topic/N" as written, any other name N as "/topic/N".
// Messages are persistent and sent with a receipt; a JMS topic keeps them
// only for its durable subscribers, as ActiveMQ does.
//
// # Wire
//
// Events are in CloudEvents binary content mode, as in the HTTP binding:
// the data is the frame's body (with a content-length, so ActiveMQ stores
// a BytesMessage), datacontenttype is the content-type header, and every
// other attribute and extension is a header "ce-<name>" with the
// attribute's canonical string. The bus's own metadata (adapters.MetaPrefix,
// "eventbus-...") travels as plain headers of the same name. STOMP and JMS
// clients see the headers as message properties.
//
// # URLs
//
// activemq://user:password@host:61613?option=value (or stomp://...; the
// port defaults to 61613). The user and password are the CONNECT frame's
// login and passcode. Options, all optional:
//
//	prefix=eventbus            queue names start with it
//	max_message_bytes=1048576  largest message (adapters.MessageBytes);
//	                           at most 16 MiB, and within the broker's
//	                           STOMP wireFormat.maxFrameSize
//	connections=4              connections sends are spread over (1-64)
//	heart_beat=10s             STOMP heart-beats each way (0: none)
//	vhost=NAME                 the CONNECT frame's host header
//
// A connection that drops is dialled again on the next call: meanwhile
// Ping, Send and the Provisioner answer Unavailable, and subscriptions
// subscribe again once the broker is back.
//
// # What survives what
//
// A message is acked (202) only once the broker stored it in KahaDB, so it
// survives the bus being killed (test/crash) and the broker being stopped
// and started (the outage test). KahaDB by default syncs its journal to
// disk before it answers, so by ActiveMQ's account it also survives the
// broker being killed and a power loss; the tests do not kill the broker.
package activemq
