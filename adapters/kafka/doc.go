// Package kafka is the Kafka backend, registered as "kafka://": each route's
// channel is a topic, consumed by one consumer group that every bus replica
// joins, with the route's dead-letter channel as one more topic beside it.
//
// It is an adapters.Driver, a gocloud.dev/pubsub driver of our own on
// franz-go, declaring Topics and not DropOldest, and no Batching: the
// producer batches concurrent sends by itself. gocloud v0.47
// ships no Kafka driver; the separate one on sarama cannot nack, commits a
// message's offset when it is acked even if earlier ones are not, and
// declares no topics. Here:
//
//   - Send returns once every in-sync replica stored the record (acks=all,
//     idempotent producer, so a retried produce is not duplicated). A message
//     over max_message_bytes is refused with InvalidArgument before it is
//     sent; one for a deleted topic fails with NotFound.
//   - Within one process, every subscription on a channel shares one group
//     member, so subscriptions compete for single records, not partitions;
//     bus replicas share the partitions between them. A member fetches at
//     most 1,024 records ahead of its subscribers.
//   - At-least-once with acks in any order: a partition's committed offset
//     never passes its first record not yet acked, so a crash re-delivers,
//     never skips. Commits follow acks as fast as the group coordinator
//     takes them. When a subscription shuts down, its unacked records go to
//     the channel's other subscriptions here; when the last one does, the
//     member commits and leaves the group, and the next owner of its
//     partitions starts from the committed offsets.
//   - Ordering is per key, not per partition: records with the same
//     adapters.MetaOrderingKey are produced with it as the record key, so they
//     land on one partition in order, and the member hands out one record
//     per key at a time, the next only once the previous is acked or nacked.
//     Other keys on the same partition keep flowing. Unkeyed records are
//     handed out in fetch order, many at a time.
//   - Nack does not re-produce the record (that would put it behind the
//     records published after it, breaking its key's order, and duplicate
//     it); the member gives it back to the head of its key's lane and
//     delivers it again, and its offset stays uncommitted meanwhile.
//   - A rebalance waits up to 10 s for records in flight on a revoked
//     partition to be settled, then commits, so the partition's next owner
//     does not start a key's next record while this replica still works on
//     the one before it. A record settled later is delivered again by the
//     new owner.
//   - Kafka cannot hold a record back until a time, so Capabilities.Delay is
//     false: the bus holds retries in-process and refuses routes with a
//     delivery delay on this backend. The bus's dead-lettering after
//     max_attempts bounds redelivery; Kafka has no delivery limit of its own.
//
// EnsureChannel creates, for channel C and the URL's prefix P (default
// "eventbus."), the topic P+C with the URL's partitions and replication and
// max.message.bytes of max_message_bytes plus 64 KiB of framing; the
// consumer group is named P+C too. The bus ensures the dead-letter channel
// C.dlq the same way. Depth is, over the partitions, the end offset less the
// group's committed offset (records fetched and not yet acked count).
// Purge deletes the records up to the end offsets (DeleteRecords) and drops
// those this process fetched and has not handed out; records already
// fetched by another replica may still be delivered. DeleteChannel deletes
// the topic and, once no member is left in it, the group.
//
// On the wire, events are in CloudEvents binary content mode per the
// CloudEvents Kafka binding: the data is the record value, datacontenttype
// is the content-type header, every other attribute and extension is a
// header "ce_<name>" with the attribute's canonical string, and the key is
// the ordering key or else the partitionkey extension. The bus's own
// metadata (adapters.MetaPrefix, "eventbus-...") travels as plain headers of
// the same name. Topic targets (adapters.TopicOpener) write the same records to
// a topic of the exact name given, created with the URL's partitions and
// replication if missing.
//
// URL: kafka://host:9092 or kafka://host1:9092,host2:9092. Options, all
// optional:
//
//	prefix=eventbus.           names of topics and groups start with it
//	partitions=6               partitions of every topic created
//	replication=N              replication factor of topics created (default: the broker's)
//	max_message_bytes=1048576  largest message (see adapters.MessageBytes)
package kafka
