// Package adapters is the contract between the bus and a message backend, and
// the registry that opens a backend from its URL.
//
// A backend is two small things. Its data plane is gocloud.dev/pubsub: the
// bus publishes through a *pubsub.Topic and consumes through a
// *pubsub.Subscription, whose drivers the backend supplies. Its Provisioner
// declares what pubsub does not: one channel per route (a queue, a topic)
// and that route's dead-letter channel, their depth, and purging.
// Capabilities say what the backend guarantees, so the bus can fill a gap
// itself or refuse a route it cannot honour, never downgrade silently.
//
// Events cross every backend in one canonical form (EncodeEvent and
// DecodeEvent): the CloudEvent's data as the message body and its context
// attributes and extensions, by their CloudEvents names, as metadata. A
// driver maps that form onto its protocol's CloudEvents binding.
//
// Every driver keeps the at-least-once contract: a message published without
// error is stored; a received message stays owned by its subscriber until
// acked; a nacked message, or one unacked when its subscription closes, is
// delivered again.
//
// Errors carry an errcode.Code (made with errcode.Errorf, read with CodeOf,
// which also understands gocloud's codes) that the bus maps to HTTP
// statuses in one place; drivers wrap their causes once, with the
// channel's name.
package adapters
