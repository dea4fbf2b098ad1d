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
// A channel packs each message's metadata then body (pack.go) into bytes
// of its own: a sender may reuse its buffers once the send returns. The
// messages that simply wait their turn (no ordering key, no delivery
// time) are packed end to end into slabs (packedqueue.go) rather than
// kept as an object each, and on Linux a slab of 2 MiB is mapped off Go's
// heap, with huge pages where the kernel gives them: a backlog of millions
// costs the garbage collector nothing, and the memory it takes is in the
// process's resident size but not in Go's heap figures (nor under
// GOMEMLIMIT). max_bytes bounds the messages; their slabs add 32 bytes a
// message and less than a quarter of a slab at each slab's end, and
// Driver.Close or DeleteChannel frees them. A freed slab of Go's heap (a
// power of two from 16 KiB to 1 MiB) goes to a pool that any channel takes
// from before it allocates, so a route that fills and drains its channel,
// batch after batch, does not allocate anew each time; the collector
// empties the pool of slabs that stay unused. A received message is copied
// out of its slab, and its Body is that copy, not to be modified (a nack
// delivers it again). A channel's driver topic is an
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
