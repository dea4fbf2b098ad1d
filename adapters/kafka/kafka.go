package kafka

import (
	"context"
	"errors"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// Scheme is the URL scheme of this backend.
const Scheme = "kafka"

// Defaults for the URL options.
const (
	DefaultPrefix          = "eventbus."
	DefaultPartitions      = 6
	DefaultReplication     = -1 // the broker's default.replication.factor
	DefaultMaxMessageBytes = 1 << 20
)

// recordOverhead is what a record adds to its canonical size on the wire:
// the ce_ prefixes, record and batch framing. Topics and the producer allow
// max_message_bytes plus this, so a message the limit admits always fits.
const recordOverhead = 64 << 10

// deliveryTimeout bounds how long a Send waits for the brokers.
const deliveryTimeout = 15 * time.Second

// maxTopicName is Kafka's limit on a topic's name.
const maxTopicName = 249

// SASL mechanisms of the sasl option.
const (
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

type options struct {
	prefix          string
	partitions      int32
	replication     int16
	maxMessageBytes int
	tls             bool
	tlsFiles        adapters.TLSOptions
	sasl            string
}

func parseOptions(q url.Values) (options, error) {
	o := options{prefix: DefaultPrefix, partitions: DefaultPartitions, replication: DefaultReplication, maxMessageBytes: DefaultMaxMessageBytes}
	for key, vals := range q {
		v := vals[0]
		if key == "prefix" {
			if !validName(v) {
				return o, errcode.Errorf(errcode.InvalidArgument, "kafka:// option prefix=%q may hold only letters, digits, '.', '_' and '-'", v)
			}
			o.prefix = v
			continue
		}
		if o.tlsFiles.Set(key, v) {
			continue
		}
		switch key {
		case "tls":
			on, err := strconv.ParseBool(v)
			if err != nil {
				return o, errcode.Errorf(errcode.InvalidArgument, "kafka:// option tls=%q must be true or false", v)
			}
			o.tls = on
			continue
		case "sasl":
			if v != SASLScramSHA256 && v != SASLScramSHA512 {
				return o, errcode.Errorf(errcode.InvalidArgument, "kafka:// option sasl=%q is not a mechanism this bus speaks: use %s or %s", v, SASLScramSHA256, SASLScramSHA512)
			}
			o.sasl = v
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return o, errcode.Errorf(errcode.InvalidArgument, "kafka:// option %s=%q must be a positive integer", key, v)
		}
		switch key {
		case "partitions":
			o.partitions = int32(min(n, 1<<20))
		case "replication":
			o.replication = int16(min(n, 1<<10))
		case "max_message_bytes":
			o.maxMessageBytes = n
		default:
			return o, errcode.Errorf(errcode.InvalidArgument, "kafka:// has no option %q (known: prefix, partitions, replication, max_message_bytes, tls, %s, sasl)", key, adapters.TLSOptionNames)
		}
	}
	return o, nil
}

// Open is the adapters.Opener for kafka:// URLs: kafka://host:9092 or
// kafka://host1:9092,host2:9092 for several seed brokers;
// kafka://USER:PASSWORD@host:9092?tls=true&sasl=scram-sha-256 over TLS with
// SCRAM authentication. It fails with InvalidArgument when an option does
// not hold together, FailedPrecondition when the brokers refuse the
// credentials or their certificate, and Unavailable when no broker answers.
func Open(ctx context.Context, u *url.URL) (adapters.Driver, error) {
	if u.Scheme != Scheme {
		return nil, errcode.Errorf(errcode.InvalidArgument, "URL scheme %q is not %s://", u.Scheme, Scheme)
	}
	if u.Host == "" {
		return nil, errcode.Errorf(errcode.InvalidArgument, "kafka:// URL names no broker: use kafka://host:9092")
	}
	opts, err := parseOptions(u.Query())
	if err != nil {
		return nil, err
	}
	seeds := strings.Split(u.Host, ",")
	conn, err := connectOptions(u, opts)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(slices.Concat(conn, []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("eventbus"),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchMaxBytes(int32(opts.maxMessageBytes + recordOverhead)),
		kgo.ProducerLinger(0),
		// A record for a deleted topic fails within about a second with
		// NotFound rather than waiting for the topic to come back.
		kgo.UnknownTopicRetries(2),
		kgo.MetadataMinAge(500 * time.Millisecond),
		// A publish the brokers do not acknowledge in time fails with
		// Unavailable instead of waiting for them indefinitely.
		kgo.RecordDeliveryTimeout(deliveryTimeout),
	})...)
	if err != nil {
		return nil, errcode.Errorf(errcode.InvalidArgument, "kafka:// URL %s: %w", u.Redacted(), err)
	}
	b := &Driver{opts: opts, seeds: seeds, conn: conn, cl: cl, adm: kadm.NewClient(cl), readers: map[string]*reader{}}
	if err := b.Ping(ctx); err != nil {
		cl.Close()
		return nil, err
	}
	return b, nil
}

// connectOptions are the client options of the URL's tls and sasl options:
// a TLS dialer, and SCRAM with the URL's user and password.
func connectOptions(u *url.URL, opts options) ([]kgo.Opt, error) {
	var conn []kgo.Opt
	switch {
	case opts.tls:
		cfg, err := opts.tlsFiles.Config("kafka://")
		if err != nil {
			return nil, err
		}
		conn = append(conn, kgo.DialTLSConfig(cfg))
	case !opts.tlsFiles.IsZero():
		return nil, errcode.Errorf(errcode.InvalidArgument, "kafka:// options %s need tls=true", adapters.TLSOptionNames)
	}
	pass, hasPass := u.User.Password()
	switch {
	case opts.sasl == "" && u.User != nil:
		return nil, errcode.Errorf(errcode.InvalidArgument, "kafka:// URL has a user but no sasl option: add sasl=%s or sasl=%s", SASLScramSHA256, SASLScramSHA512)
	case opts.sasl == "":
	case u.User.Username() == "" || !hasPass:
		return nil, errcode.Errorf(errcode.InvalidArgument, "kafka:// option sasl=%s needs a user and password in the URL: kafka://USER:PASSWORD@host:9092", opts.sasl)
	case opts.sasl == SASLScramSHA256:
		conn = append(conn, kgo.SASL(scram.Auth{User: u.User.Username(), Pass: pass}.AsSha256Mechanism()))
	default:
		conn = append(conn, kgo.SASL(scram.Auth{User: u.User.Username(), Pass: pass}.AsSha512Mechanism()))
	}
	return conn, nil
}

// Driver is one connection to a Kafka cluster: a producer shared by every
// topic, and one consumer group member per channel consumed here.
type Driver struct {
	opts  options
	seeds []string
	// conn are the client options of TLS and SASL, for every client of
	// this backend.
	conn []kgo.Opt
	cl   *kgo.Client
	adm  *kadm.Client

	mu      sync.Mutex
	readers map[string]*reader // channel → this process's group member
	closed  bool
}

var (
	_ adapters.Driver      = (*Driver)(nil)
	_ adapters.TopicOpener = (*Driver)(nil)
)

// Capabilities implements adapters.Driver: Kafka keeps records across
// restarts and hands out one record per ordering key at a time. It cannot
// hold a record back until a time, so Delay is false and the bus waits
// retries out itself.
func (b *Driver) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{Durable: true, MaxMessageBytes: b.opts.maxMessageBytes, Ordering: true, Topics: true}
}

// Ping implements adapters.Driver with a round trip to a broker.
func (b *Driver) Ping(ctx context.Context) error {
	if err := b.cl.Ping(ctx); err != nil {
		// Kafka answers a failed SASL authentication with
		// SASL_AUTHENTICATION_FAILED; older brokers (before KIP-152) and
		// kfake just close the connection.
		if errors.Is(err, kerr.SaslAuthenticationFailed) || (b.opts.sasl != "" && errors.Is(err, io.EOF)) {
			return errcode.Errorf(errcode.FailedPrecondition, "Kafka at %s refused the SASL authentication (check the URL's user and password, and the sasl mechanism): %w", b.addr(), err)
		}
		if hint := adapters.TLSHint(err); hint != "" {
			return errcode.Errorf(errcode.FailedPrecondition, "Kafka at %s over TLS: %w%s", b.addr(), err, hint)
		}
		return errcode.Errorf(errcode.Unavailable, "Kafka at %s does not answer (check that it runs and the URL's brokers): %w", b.addr(), err)
	}
	return nil
}

// Close implements adapters.Driver. It is safe to call more than once.
func (b *Driver) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	readers := b.readers
	b.readers = map[string]*reader{}
	b.mu.Unlock()
	for _, r := range readers {
		r.close()
	}
	b.cl.Close()
	return nil
}

func (b *Driver) addr() string { return strings.Join(b.seeds, ",") }

// topicName and groupName are the Kafka names of a channel's topic and of
// the consumer group every bus replica joins to consume it.
func (b *Driver) topicName(channel string) string { return b.opts.prefix + channel }
func (b *Driver) groupName(channel string) string { return b.opts.prefix + channel }

// validName reports whether s uses only the characters Kafka allows in
// topic names.
func validName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// EnsureChannel implements adapters.Provisioner: a topic of the URL's
// partitions and replication, allowing records of max_message_bytes. A
// channel's dead-letter channel ("C.dlq") is one more topic.
func (b *Driver) EnsureChannel(ctx context.Context, channel string) error {
	name := b.topicName(channel)
	if channel == "" || !validName(channel) || len(name) > maxTopicName {
		return errcode.Errorf(errcode.InvalidArgument, "channel %q: Kafka topic names are 1-%d letters, digits, '.', '_' or '-' including the prefix %q: rename the route", channel, maxTopicName, b.opts.prefix)
	}
	return b.createTopic(ctx, channel, name)
}

func (b *Driver) createTopic(ctx context.Context, channel, name string) error {
	maxBytes := strconv.Itoa(b.opts.maxMessageBytes + recordOverhead)
	resp, err := b.adm.CreateTopic(ctx, b.opts.partitions, b.opts.replication, map[string]*string{"max.message.bytes": &maxBytes}, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return b.fail(channel, "create topic", err)
	}
	return nil
}

// DeleteChannel implements adapters.Provisioner: the channel's topic and
// its consumer group's offsets. Subscriptions on it here fail with NotFound.
func (b *Driver) DeleteChannel(ctx context.Context, channel string) error {
	b.mu.Lock()
	r := b.readers[channel]
	delete(b.readers, channel)
	b.mu.Unlock()
	if r != nil {
		r.fail(b.errDeleted(channel))
	}
	resp, err := b.adm.DeleteTopic(ctx, b.topicName(channel))
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return b.fail(channel, "delete topic", err)
	}
	// Members of other replicas may still be in the group; then its
	// offsets stay until they leave, which is harmless.
	_, _ = b.adm.DeleteGroup(ctx, b.groupName(channel))
	return nil
}

func (b *Driver) errDeleted(channel string) error {
	return errcode.Errorf(errcode.NotFound, "channel %q was deleted from Kafka at %s (ensure the route's channel again)", channel, b.addr())
}

// exists checks that a channel's topic exists: NotFound if it does not. It asks a broker every time:
// kadm's helpers answer from a metadata cache that outlives a deletion.
func (b *Driver) exists(ctx context.Context, channel, op string) error {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(b.topicName(channel))
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, b.cl)
	if err != nil {
		return b.fail(channel, op, err)
	}
	if len(resp.Topics) != 1 {
		return b.fail(channel, op, kerr.UnknownTopicOrPartition)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return b.fail(channel, op, err)
	}
	return nil
}

// Depth implements adapters.Provisioner: over the topic's partitions, the
// end offset less the group's committed offset (or the first offset kept,
// if later). Records fetched by a subscriber and not yet acked count.
func (b *Driver) Depth(ctx context.Context, channel string) (int64, error) {
	if err := b.exists(ctx, channel, "depth"); err != nil {
		return 0, err
	}
	name := b.topicName(channel)
	ends, err := b.adm.ListEndOffsets(ctx, name)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, b.fail(channel, "depth", err)
	}
	starts, err := b.adm.ListStartOffsets(ctx, name)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, b.fail(channel, "depth", err)
	}
	committed, err := b.adm.FetchOffsets(ctx, b.groupName(channel))
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return 0, b.fail(channel, "depth", err)
	}
	var depth int64
	ends.Each(func(end kadm.ListedOffset) {
		from := int64(0)
		if s, ok := starts.Lookup(name, end.Partition); ok {
			from = s.Offset
		}
		if c, ok := committed.Lookup(name, end.Partition); ok && c.Err == nil {
			from = max(from, c.At)
		}
		depth += max(0, end.Offset-from)
	})
	return depth, nil
}

// Purge implements adapters.Provisioner: it deletes every record up to the
// end of each partition, and drops the records this process fetched and
// has not handed out. Records in flight stay; so do those another replica
// fetched before the purge.
func (b *Driver) Purge(ctx context.Context, channel string) error {
	if err := b.exists(ctx, channel, "purge"); err != nil {
		return err
	}
	ends, err := b.adm.ListEndOffsets(ctx, b.topicName(channel))
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return b.fail(channel, "purge", err)
	}
	resp, err := b.adm.DeleteRecords(ctx, ends.Offsets())
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return b.fail(channel, "purge", err)
	}
	b.mu.Lock()
	r := b.readers[channel]
	b.mu.Unlock()
	if r != nil {
		r.purge()
	}
	return nil
}

// OpenChannel implements adapters.Driver. The channel must exist. The
// producer batches concurrent sends into one request by itself.
func (b *Driver) OpenChannel(ctx context.Context, channel string) (driver.Topic, error) {
	if err := b.exists(ctx, channel, "open topic"); err != nil {
		return nil, err
	}
	return &topic{b: b, channel: channel, name: b.topicName(channel)}, nil
}

// OpenTopic implements adapters.TopicOpener: it produces to the topic of
// that exact name (no prefix), creating it with the URL's partitions and
// replication if it is missing.
func (b *Driver) OpenTopic(ctx context.Context, name string) (driver.Topic, error) {
	if name == "" || !validName(name) || len(name) > maxTopicName {
		return nil, errcode.Errorf(errcode.InvalidArgument, "topic %q: Kafka topic names are 1-%d letters, digits, '.', '_' or '-'", name, maxTopicName)
	}
	if err := b.createTopic(ctx, name, name); err != nil {
		return nil, err
	}
	return &topic{b: b, channel: name, name: name}, nil
}

// OpenSubscription implements adapters.Driver. The channel must exist.
// Every subscription on one channel in this process shares one member of
// the channel's consumer group, so they compete for single records, not
// for partitions; other bus replicas share the partitions.
func (b *Driver) OpenSubscription(ctx context.Context, channel string, opts adapters.SubscriptionOptions) (driver.Subscription, error) {
	if err := b.exists(ctx, channel, "open subscription"); err != nil {
		return nil, err
	}
	r, err := b.reader(channel)
	if err != nil {
		return nil, err
	}
	return &subscription{r: r, prefetch: opts.MaxInflight}, nil
}

// reader returns this process's member of the channel's group, joining
// the group if there is none, and counts one more subscription on it.
func (b *Driver) reader(channel string) (*reader, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errcode.Errorf(errcode.FailedPrecondition, "channel %q: the Kafka backend is closed", channel)
	}
	if r := b.readers[channel]; r != nil {
		r.subs++
		return r, nil
	}
	r, err := newReader(b, channel)
	if err != nil {
		return nil, err
	}
	r.subs++
	b.readers[channel] = r
	return r, nil
}

// release counts one subscription less on r and, at none, leaves the
// group.
func (b *Driver) release(r *reader) {
	b.mu.Lock()
	r.subs--
	last := r.subs == 0
	if last && b.readers[r.channel] == r {
		delete(b.readers, r.channel)
	}
	b.mu.Unlock()
	if last {
		r.close()
	}
}

// fail wraps a Kafka error once, with the channel, the operation, and what
// to do about it.
func (b *Driver) fail(channel, op string, err error) error {
	switch code := codeOf(err); code {
	case errcode.NotFound:
		return errcode.Errorf(code, "channel %q: %s: its topic does not exist on Kafka at %s (ensure the route's channel first): %w", channel, op, b.addr(), err)
	case errcode.InvalidArgument:
		return errcode.Errorf(code, "channel %q: %s: Kafka at %s refused the request as invalid: %w", channel, op, b.addr(), err)
	case errcode.FailedPrecondition:
		return errcode.Errorf(code, "channel %q: %s: Kafka at %s refused (check the client's ACLs on the topic and group): %w", channel, op, b.addr(), err)
	case errcode.Unavailable:
		return errcode.Errorf(code, "channel %q: %s: Kafka at %s is unavailable, retry later: %w", channel, op, b.addr(), err)
	default:
		return errcode.Errorf(code, "channel %q: %s: %w", channel, op, err)
	}
}

// codeOf classifies an error from franz-go by Kafka error code; anything
// that is not a Kafka error is the network.
func codeOf(err error) errcode.Code {
	var ke *kerr.Error
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return errcode.NotFound
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge),
		errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.InvalidRecord),
		errors.Is(err, kerr.InvalidPartitions), errors.Is(err, kerr.InvalidReplicationFactor),
		errors.Is(err, kerr.PolicyViolation), errors.Is(err, kerr.InvalidConfig):
		return errcode.InvalidArgument
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.SaslAuthenticationFailed):
		return errcode.FailedPrecondition
	case errors.As(err, &ke) && !ke.Retriable:
		return errcode.Internal
	}
	return errcode.Unavailable
}

// receiveWait is how long ReceiveBatch waits for a record before it returns
// none, as gocloud's driver contract asks (about a second at most).
const receiveWait = time.Second
