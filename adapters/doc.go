// Package adapters is the contract between the bus and a message backend,
// the one data path through which every event crosses it, and the registry
// that opens a backend from its URL.
//
// # Two levels
//
// A backend supplies a Driver: gocloud.dev/pubsub/driver topics and
// subscriptions for its channels (one per route, and the route's
// "<route>.dlq" dead-letter channel), the Provisioner that declares, counts
// and purges those channels, and the Capabilities it guarantees. Abilities
// only some backends have are declared twice, by a Capabilities flag and by
// an optional interface: DropOldest with HeadDropper, Topics (publishing to
// a topic other systems read, for topic targets) with TopicOpener. New
// refuses a driver whose flags and interfaces disagree, so a gap is
// declared, not discovered.
//
// New wraps a Driver once into a Backend, the only thing the bus uses:
// Channel.SendEvent for ingress and replays (an event and the bus's Stamp)
// and Channel.Send for retries and dead letters; Subscription.Receive with
// Received.Ack and Nack for dispatchers and dead-letter listings;
// Backend.DropOldest; Topic.Publish for topic targets. The conformance
// suite, adapters/adaptertest, drives exactly these. SendEvent is Send of
// EncodeStamped's message, except on an unbatched driver topic that stores
// events itself (EventSender, the in-memory one), which packs its own form
// from the event's fields rather than flattening the map: the one optional
// interface without a Capabilities flag, since a route can ask nothing of
// it. The suite checks that an event sent either way arrives alike.
// How the driver is driven is declared by the backend in
// Capabilities.Batching and applied here, once: a subscription's default
// MaxInflight, and where every request is a round trip (SQS), sends,
// receives and acks gathered into batches with gocloud's batcher. Without
// batching a Send is one SendBatch call of its own, with no portable-type
// bookkeeping per event.
//
// # Contract
//
// Events cross every backend in one canonical form (EncodeEvent and
// DecodeEvent): the CloudEvent's data as the message body and its context
// attributes and extensions, by their CloudEvents names, as metadata. A
// driver maps that form onto its protocol's CloudEvents binding.
//
// Every driver keeps the at-least-once contract: a message sent without
// error is stored; a received message stays owned by its subscriber until
// acked; a nacked message, or one unacked when its subscription shuts down,
// is delivered again. Capabilities say what else the backend guarantees, so
// the bus can fill a gap itself or refuse a route it cannot honour, never
// downgrade silently.
//
// Errors carry an errcode.Code, made with errcode.Errorf and read with
// errcode.Of, that the bus maps to HTTP statuses in one place. Drivers wrap
// their causes once, with the channel's name and what to do; an error a
// driver leaves unclassified gets its code from the driver's ErrorCode, in
// the Backend and nowhere else. Drivers retry nothing: the dispatcher
// decides about deliveries, and a Subscription waits out an Unavailable
// receive.
//
// # What a new backend needs
//
// One package under adapters/ and one line in the bus's registry. In it:
//
//   - doc.go: the URL and its options, what Capabilities it declares and
//     why, and its CloudEvents binding on the wire;
//   - Open(ctx, *url.URL) (Driver, error), the Opener for its scheme, and
//     the Driver type with Capabilities, Ping, Close, the Provisioner's
//     EnsureChannel, DeleteChannel, Depth and Purge, OpenChannel and
//     OpenSubscription;
//   - a driver.Topic (SendBatch, Close) and a driver.Subscription
//     (ReceiveBatch, SendAcks, CanNack true, SendNacks, Close), each
//     embedding DriverDefaults for the rest;
//   - where it can, DropOldest (HeadDropper) or OpenTopic (TopicOpener),
//     with the matching Capabilities flag;
//   - a test that runs adaptertest.Run with a Harness opening it, and a
//     golden file of its wire form (adaptertest.MatchesGolden).
package adapters
