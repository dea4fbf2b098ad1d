package nats

import (
	"context"
	"errors"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/errcode"
)

// Schemes of this backend: an external server or cluster, and a server
// embedded in the process.
const (
	Scheme         = "nats"
	SchemeEmbedded = "nats+embedded"
)

// DefaultPrefix starts the name of every stream and subject of a channel.
const DefaultPrefix = "eventbus"

// consumerName is the durable pull consumer of a channel's unkeyed
// messages, which every subscription of every bus replica shares; lane i's
// consumer is consumerName-lane-i.
const consumerName = "eventbus"

// DefaultLanes is how many ordering lanes a channel has.
const DefaultLanes = 16

// DefaultAckWait is how long the server waits for an ack before it
// redelivers; a subscription tells it every third of that that the
// messages it holds are still being worked on, so a long delivery is never
// redelivered meanwhile.
const DefaultAckWait = 30 * time.Second

// duplicateWindow is how long the server remembers a Nats-Msg-Id.
const duplicateWindow = 2 * time.Minute

// headerReserve is the part of the server's max_payload kept for the NATS
// header framing, which adapters.MessageBytes does not count.
const headerReserve = 64 << 10

// options are the URL options both schemes share.
type options struct {
	prefix          string
	replicas        int
	maxMessageBytes int
	ackWait         time.Duration
	lanes           int
}

// Driver is a backend on NATS JetStream: one stream per channel.
type Driver struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	srv  *server.Server // the embedded server; nil for an external one
	opts options
}

var (
	_ adapters.Driver      = (*Driver)(nil)
	_ adapters.TopicOpener = (*Driver)(nil)
)

// Open is the adapters.Opener for nats:// URLs: an external server or
// cluster, nats://user:password@host1:4222,host2:4222?option=value.
func Open(ctx context.Context, u *url.URL) (adapters.Driver, error) {
	var (
		opts  = options{prefix: DefaultPrefix, replicas: 1, ackWait: DefaultAckWait, lanes: DefaultLanes}
		tlsO  adapters.TLSOptions
		creds string
	)
	err := parseQuery(u, &opts, func(key, v string) bool {
		switch {
		case key == "creds":
			creds = v
		case tlsO.Set(key, v):
		default:
			return false
		}
		return true
	}, "creds, "+adapters.TLSOptionNames)
	if err != nil {
		return nil, err
	}
	var servers []string
	for h := range strings.SplitSeq(u.Host, ",") {
		s := url.URL{Scheme: "nats", User: u.User, Host: h}
		servers = append(servers, s.String())
	}
	nopts := []nats.Option{nats.Name("eventbus"), nats.MaxReconnects(-1)}
	if creds != "" {
		nopts = append(nopts, nats.UserCredentials(creds))
	}
	if !tlsO.IsZero() {
		cfg, err := tlsO.Config(Scheme + "://")
		if err != nil {
			return nil, err
		}
		nopts = append(nopts, nats.Secure(cfg))
	}
	nc, err := nats.Connect(strings.Join(servers, ","), nopts...)
	if err != nil {
		return nil, errcode.Errorf(errcode.Unavailable, "nats://%s: %v%s: check the server is running and the URL's credentials", u.Host, err, adapters.TLSHint(err))
	}
	return newDriver(ctx, nc, nil, opts)
}

// parseQuery reads the options both schemes share into opts and hands any
// other to more, which reports whether it knows it; known lists those.
func parseQuery(u *url.URL, opts *options, more func(key, v string) bool, known string) error {
	for key, vals := range u.Query() {
		v := vals[0]
		switch key {
		case "prefix":
			if v == "" || strings.ContainsAny(v, ".*> ") {
				return errcode.Errorf(errcode.InvalidArgument, "%s:// option prefix=%q must be one subject token (no dots, wildcards or spaces)", u.Scheme, v)
			}
			opts.prefix = v
		case "ack_wait":
			d, err := time.ParseDuration(v)
			if err != nil || d < 100*time.Millisecond {
				return errcode.Errorf(errcode.InvalidArgument, "%s:// option ack_wait=%q must be a duration of at least 100ms, such as 30s", u.Scheme, v)
			}
			opts.ackWait = d
		case "replicas", "max_message_bytes", "lanes":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return errcode.Errorf(errcode.InvalidArgument, "%s:// option %s=%q must be a positive integer", u.Scheme, key, v)
			}
			switch key {
			case "replicas":
				opts.replicas = n
			case "lanes":
				opts.lanes = n
			default:
				opts.maxMessageBytes = n
			}
		default:
			if !more(key, v) {
				return errcode.Errorf(errcode.InvalidArgument, "%s:// has no option %q (known: prefix, replicas, max_message_bytes, ack_wait, lanes, %s)", u.Scheme, key, known)
			}
		}
	}
	return nil
}

// newDriver checks that the server runs JetStream and takes the largest
// message from its max_payload.
func newDriver(ctx context.Context, nc *nats.Conn, srv *server.Server, opts options) (*Driver, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, errcode.Errorf(errcode.Internal, "nats: %v", err)
	}
	d := &Driver{nc: nc, js: js, srv: srv, opts: opts}
	if _, err := js.AccountInfo(ctx); err != nil {
		_ = d.Close()
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return nil, errcode.Errorf(errcode.FailedPrecondition, "nats: %v: start the server with JetStream (nats-server -js)", err)
		}
		return nil, errcode.Errorf(errcode.Unavailable, "nats: JetStream does not answer: %v", err)
	}
	limit := int(nc.MaxPayload()) - headerReserve
	if limit <= 0 {
		limit = int(nc.MaxPayload()) / 2
	}
	switch {
	case d.opts.maxMessageBytes == 0:
		d.opts.maxMessageBytes = limit
	case d.opts.maxMessageBytes > limit:
		_ = d.Close()
		return nil, errcode.Errorf(errcode.InvalidArgument, "nats: max_message_bytes=%d is over what the server's max_payload of %d bytes allows (%d): lower it or raise max_payload", d.opts.maxMessageBytes, nc.MaxPayload(), limit)
	}
	return d, nil
}

// Capabilities implements adapters.Driver. Nothing is batched by the
// portable layer: a subscription's pull requests bring messages ahead
// already, and a receive that took several would leave them waiting while
// other receivers block on the driver.
func (d *Driver) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{
		Durable:         true,
		MaxMessageBytes: d.opts.maxMessageBytes,
		Delay:           true,
		Ordering:        true,
		Topics:          true,
		Archive:         true,
		// Acks and naks are published on the connection, not awaited.
		Batching: adapters.Batching{QueuedAcks: true},
	}
}

// Ping implements adapters.Driver: JetStream answers, not only the server.
func (d *Driver) Ping(ctx context.Context) error {
	if !d.nc.IsConnected() {
		return errcode.Errorf(errcode.Unavailable, "nats: not connected (%s): the client reconnects by itself", d.nc.Status())
	}
	if _, err := d.js.AccountInfo(ctx); err != nil {
		return d.wrap(err, "ping", "")
	}
	return nil
}

// Close implements adapters.Driver: it closes the connection and shuts the
// embedded server down.
func (d *Driver) Close() error {
	d.nc.Close()
	if d.srv != nil {
		d.srv.Shutdown()
		d.srv.WaitForShutdown()
	}
	return nil
}

// stream and subject name channel's stream and the subject it stores.
// Channel names hold letters, digits, '.', '_' and '-'; a stream name may
// not hold '.', and a subject's dots split tokens, so '.' becomes '~',
// which no channel name holds: two channels never share a stream.
func (d *Driver) stream(channel string) string {
	return d.opts.prefix + "_" + strings.ReplaceAll(channel, ".", "~")
}

func (d *Driver) subject(channel string) string {
	return d.opts.prefix + "." + strings.ReplaceAll(channel, ".", "~")
}

// laneSubject is the subject of channel's lane i, which stores the
// messages whose ordering key hashes to i.
func (d *Driver) laneSubject(channel string, i int) string {
	return d.subject(channel) + ".lane." + strconv.Itoa(i)
}

// laneOf hashes an ordering key onto one of n lanes.
func laneOf(key string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

func laneConsumer(i int) string { return consumerName + "-lane-" + strconv.Itoa(i) }

// EnsureChannel implements adapters.Provisioner: a file-backed work-queue
// stream, from which an acked message is removed, storing the channel's
// subject and its lanes', and the consumer of unkeyed messages. The lanes'
// consumers are made by the first ordered subscription.
func (d *Driver) EnsureChannel(ctx context.Context, channel string) error {
	s, err := d.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       d.stream(channel),
		Subjects:   []string{d.subject(channel), d.subject(channel) + ".lane.*"},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Replicas:   d.opts.replicas,
		Duplicates: duplicateWindow,
		MaxMsgSize: -1,
	})
	if err != nil {
		return d.wrap(err, "create the stream of", channel)
	}
	if _, err := s.CreateOrUpdateConsumer(ctx, d.consumerConfig(consumerName, d.subject(channel), -1)); err != nil {
		return d.wrap(err, "create the consumer of", channel)
	}
	return nil
}

// consumerConfig is a durable pull consumer of subject with explicit acks
// and no delivery limit, handing out at most maxAckPending messages at a
// time (-1: no limit).
func (d *Driver) consumerConfig(name, subject string, maxAckPending int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       name,
		FilterSubject: subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       d.opts.ackWait,
		MaxAckPending: maxAckPending,
		MaxDeliver:    -1,
		Replicas:      d.opts.replicas,
	}
}

// DeleteChannel implements adapters.Provisioner.
func (d *Driver) DeleteChannel(ctx context.Context, channel string) error {
	err := d.js.DeleteStream(ctx, d.stream(channel))
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return d.wrap(err, "delete", channel)
	}
	return nil
}

// Depth implements adapters.Provisioner: the messages in the stream,
// those delivered and not yet acked included.
func (d *Driver) Depth(ctx context.Context, channel string) (int64, error) {
	s, err := d.js.Stream(ctx, d.stream(channel))
	if err != nil {
		return 0, d.wrap(err, "count", channel)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, d.wrap(err, "count", channel)
	}
	return int64(info.State.Msgs), nil
}

// Purge implements adapters.Provisioner. Messages in flight go too: their
// acks then find nothing.
func (d *Driver) Purge(ctx context.Context, channel string) error {
	s, err := d.js.Stream(ctx, d.stream(channel))
	if err != nil {
		return d.wrap(err, "purge", channel)
	}
	if err := s.Purge(ctx); err != nil {
		return d.wrap(err, "purge", channel)
	}
	return nil
}

// OpenChannel implements adapters.Driver.
func (d *Driver) OpenChannel(ctx context.Context, channel string) (driver.Topic, error) {
	if _, err := d.js.Stream(ctx, d.stream(channel)); err != nil {
		return nil, d.wrap(err, "open", channel)
	}
	return &topic{d: d, subject: d.subject(channel), stream: d.stream(channel), name: channel, what: "channel", lanes: d.opts.lanes}, nil
}

// OpenTopic implements adapters.TopicOpener. A topic is a subject: core
// NATS subscribers read it as it is published. A subject is declared by
// being used, so there is nothing to create; when a stream of its readers
// captures the subject, a publish returns once that stream stored it.
func (d *Driver) OpenTopic(ctx context.Context, name string) (driver.Topic, error) {
	if name == "" || strings.ContainsAny(name, "*> \t") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return nil, errcode.Errorf(errcode.InvalidArgument, "nats topic %q is not a subject one can publish to: use dot-separated tokens without wildcards or spaces", name)
	}
	t := &topic{d: d, subject: name, name: name, what: "topic"}
	stream, err := d.js.StreamNameBySubject(ctx, name)
	switch {
	case err == nil:
		t.stream = stream
	case errors.Is(err, jetstream.ErrStreamNotFound):
	default:
		return nil, d.wrap(err, "find the stream of", name)
	}
	return t, nil
}

// OpenSubscription implements adapters.Driver. An ordered subscription
// also pulls from every lane's consumer, which hands out one message at a
// time across all its subscribers, declaring those consumers if missing.
// An unordered one pulls from the lanes too once they exist, so that
// messages left on them when a route stops being ordered are delivered.
func (d *Driver) OpenSubscription(ctx context.Context, channel string, opts adapters.SubscriptionOptions) (driver.Subscription, error) {
	if _, err := d.js.Consumer(ctx, d.stream(channel), consumerName); err != nil {
		return nil, d.wrap(err, "subscribe to", channel)
	}
	ordered := opts.Ordered
	if !ordered {
		_, err := d.js.Consumer(ctx, d.stream(channel), laneConsumer(0))
		switch {
		case err == nil:
			ordered = true
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return nil, d.wrap(err, "subscribe to", channel)
		}
	}
	var lanes []string
	if ordered {
		for i := range d.opts.lanes {
			_, err := d.js.CreateOrUpdateConsumer(ctx, d.stream(channel), d.consumerConfig(laneConsumer(i), d.laneSubject(channel, i), 1))
			if err != nil {
				return nil, d.wrap(err, "subscribe to the lanes of", channel)
			}
			lanes = append(lanes, laneConsumer(i))
		}
	}
	return newSubscription(d, consumerName, lanes, channel, opts.MaxInflight)
}

// wrap gives err its errcode.Code, once, with what was done to which
// channel and what to do about it.
func (d *Driver) wrap(err error, what, channel string) error {
	code := codeOf(err)
	hint := ""
	switch code {
	case errcode.Unavailable:
		hint = ": the server is unreachable; the client reconnects by itself"
	case errcode.NotFound:
		hint = ": the channel does not exist (was its route deleted?)"
	}
	if channel == "" {
		return errcode.Errorf(code, "nats: %s: %v%s", what, err, hint)
	}
	return errcode.Errorf(code, "nats: %s %q: %v%s", what, channel, err, hint)
}

// codeOf classifies an error of nats.go.
func codeOf(err error) errcode.Code {
	switch {
	case errcode.Of(err) != errcode.Unknown:
		return errcode.Of(err)
	case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrConsumerNotFound),
		errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrNoStreamResponse):
		return errcode.NotFound
	case errors.Is(err, nats.ErrMaxPayload):
		return errcode.InvalidArgument
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrNoServers),
		errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrDisconnected), errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, context.DeadlineExceeded):
		return errcode.Unavailable
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code == 503 {
		return errcode.Unavailable
	}
	return errcode.Unknown
}
