// Package memory is the in-memory backend, registered as "mem://": every
// route's channel is a bounded queue inside the bus process. It is the
// default backend, for development and tests.
//
// It is an adapters.Driver, a gocloud.dev/pubsub driver of its own rather
// than gocloud's mempubsub, which polls (sleeping up to 250 ms when idle)
// and has no depth, purge or size limits. Here a receiver blocks until a
// message arrives and wakes at once. It declares Capabilities.DropOldest
// (it is a HeadDropper) and no Topics, and of Batching only QueuedAcks: a
// send stores its message under the channel's lock at once, and an ack
// settles it there.
//
// A channel keeps each message in one slice of its own, metadata then
// body (pack.go): a sender may reuse its buffers once the send returns,
// and a received message's Body is that stored copy, not to be modified
// (a nack delivers it again). A channel's driver topic is an
// adapters.EventSender: an event sent with Channel.SendEvent is packed
// from its fields, without the canonical map that a Send would flatten.
//
// Delivery is at-least-once within the process: a received message belongs
// to its subscription until acked; a nack, or closing the subscription with
// the message unacked, puts it back at the head of its channel. Memory is
// bounded: a channel refuses a publish past its depth or byte limit with
// ResourceExhausted, and a message over the size limit with InvalidArgument.
// Nothing survives the process: Capabilities report Durable false, and the
// bus drains these channels before it exits.
//
// URL options (all optional):
//
//	mem://?max_depth=100000&max_bytes=67108864&max_message_bytes=4194304
//
// max_depth and max_bytes bound each channel; max_message_bytes bounds one
// message (body plus metadata). Every mem:// URL that differs is a separate
// set of channels.
package memory
