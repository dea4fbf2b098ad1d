package activemq

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"gocloud.dev/pubsub/driver"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/activemq/stomp"
	"github.com/eventbus-go/eventbus/errcode"
)

// Schemes of this backend: activemq://host:61613 and stomp://host:61613
// name the same thing, a broker's STOMP connector.
const (
	Scheme      = "activemq"
	SchemeSTOMP = "stomp"
)

// DefaultPrefix starts the name of every queue of a channel.
const DefaultPrefix = "eventbus"

// DefaultMaxMessageBytes is the largest message unless max_message_bytes
// says otherwise.
const DefaultMaxMessageBytes = 1 << 20

// DefaultHeartBeat is how often the client and the broker show each other
// they are alive, so a broker gone without closing the connection is
// noticed.
const DefaultHeartBeat = 10 * time.Second

// DefaultConnections is how many connections a driver sends on. ActiveMQ
// stores the persistent sends of one connection one after another, each
// waiting for its journal write; sends spread over several connections
// share journal writes.
const DefaultConnections = 4

// dialTimeout bounds one connection attempt.
const dialTimeout = 10 * time.Second

// catalogHeader names a channel in the catalog queue: a JMS property
// name, so that selectors can match it.
const catalogHeader = "eventbusChannel"

// options are what the URL says.
type options struct {
	addr            string
	prefix          string
	maxMessageBytes int
	connections     int
	stomp           stomp.Options
}

// Driver is a backend on an ActiveMQ broker's STOMP connector: one queue
// per channel.
type Driver struct {
	opts options

	mu      sync.Mutex
	conns   []*stomp.Conn // for sends; the first also for provisioning; nil until dialled
	next    uint64        // the connection the next send takes
	deleted map[string]bool
	subs    map[*subscription]bool
}

var (
	_ adapters.Driver      = (*Driver)(nil)
	_ adapters.TopicOpener = (*Driver)(nil)
)

// Open is the adapters.Opener for activemq:// and stomp:// URLs:
// activemq://user:password@host:61613?option=value.
func Open(ctx context.Context, u *url.URL) (adapters.Driver, error) {
	o := options{addr: u.Host, prefix: DefaultPrefix, maxMessageBytes: DefaultMaxMessageBytes, connections: DefaultConnections}
	o.stomp.HeartBeat = DefaultHeartBeat
	if u.Port() == "" {
		o.addr = net.JoinHostPort(u.Hostname(), "61613")
	}
	if u.User != nil {
		o.stomp.Login = u.User.Username()
		o.stomp.Passcode, _ = u.User.Password()
	}
	for key, vals := range u.Query() {
		v := vals[0]
		switch key {
		case "prefix":
			if !validName(v) {
				return nil, errcode.Errorf(errcode.InvalidArgument, "%s:// option prefix=%q must be letters, digits, '.', '_' or '-'", u.Scheme, v)
			}
			o.prefix = v
		case "max_message_bytes":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > stomp.DefaultLimits.MaxBodyBytes {
				return nil, errcode.Errorf(errcode.InvalidArgument, "%s:// option max_message_bytes=%q must be a positive integer up to %d", u.Scheme, v, stomp.DefaultLimits.MaxBodyBytes)
			}
			o.maxMessageBytes = n
		case "connections":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 64 {
				return nil, errcode.Errorf(errcode.InvalidArgument, "%s:// option connections=%q must be an integer from 1 to 64", u.Scheme, v)
			}
			o.connections = n
		case "heart_beat":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return nil, errcode.Errorf(errcode.InvalidArgument, "%s:// option heart_beat=%q must be a duration such as 10s (0 for none)", u.Scheme, v)
			}
			o.stomp.HeartBeat = d
		case "vhost":
			o.stomp.Host = v
		default:
			return nil, errcode.Errorf(errcode.InvalidArgument, "%s:// has no option %q (known: prefix, max_message_bytes, connections, heart_beat, vhost)", u.Scheme, key)
		}
	}
	d := &Driver{opts: o, conns: make([]*stomp.Conn, o.connections), deleted: map[string]bool{}, subs: map[*subscription]bool{}}
	if _, err := d.session(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// validName: channel names and the prefix hold letters, digits, '.', '_'
// and '-', so a queue name needs no quoting in a selector or a STOMP
// destination.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// dial opens a new connection to the broker.
func (d *Driver) dial(ctx context.Context) (*stomp.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := stomp.Dial(ctx, d.opts.addr, d.opts.stomp)
	if err != nil {
		var se *stomp.Error
		if errors.As(err, &se) {
			return nil, errcode.Errorf(errcode.FailedPrecondition, "activemq %s: the broker refused the connection: %v: check the URL's user and password", d.opts.addr, err)
		}
		return nil, errcode.Errorf(errcode.Unavailable, "activemq %s: %v: check the broker is running and its STOMP connector listens there", d.opts.addr, err)
	}
	return c, nil
}

// session is the connection for provisioning, dialled again if the last
// one ended.
func (d *Driver) session(ctx context.Context) (*stomp.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.connLocked(ctx, 0)
}

// sender is the connection for the next send: each in turn.
func (d *Driver) sender(ctx context.Context) (*stomp.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.next++
	return d.connLocked(ctx, int(d.next%uint64(len(d.conns))))
}

// connLocked is connection i, dialled again if it ended; d.mu is held.
func (d *Driver) connLocked(ctx context.Context, i int) (*stomp.Conn, error) {
	if c := d.conns[i]; c != nil && c.Err() == nil {
		return c, nil
	}
	c, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	d.conns[i] = c
	return c, nil
}

// Capabilities implements adapters.Driver. Nothing is batched by the
// portable layer: sends are pipelined on the driver's connections, each
// waiting for its own receipt.
func (d *Driver) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{
		Durable:         true,
		MaxMessageBytes: d.opts.maxMessageBytes,
		Delay:           true,
		Ordering:        true,
		Topics:          true,
	}
}

// Ping implements adapters.Driver: the shared connection is up, or can be
// made again.
func (d *Driver) Ping(ctx context.Context) error {
	_, err := d.session(ctx)
	return err
}

// Close implements adapters.Driver.
func (d *Driver) Close() error {
	d.mu.Lock()
	conns := d.conns
	d.conns = make([]*stomp.Conn, len(conns))
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	var errs []error
	for _, c := range conns {
		if c == nil {
			continue
		}
		if err := c.Close(ctx); err != nil && !errors.Is(err, stomp.ErrClosed) {
			errs = append(errs, d.wrap(err, "close a connection", ""))
		}
	}
	return errors.Join(errs...)
}

func (d *Driver) queue(channel string) string { return "/queue/" + d.opts.prefix + "." + channel }

// catalog is the queue holding one message per channel: a channel exists
// while its message is there. Its name has no '.' after the prefix, so no
// channel's queue can be it.
func (d *Driver) catalog() string { return "/queue/" + d.opts.prefix + "-channels" }

func catalogSelector(channel string) string { return catalogHeader + " = '" + channel + "'" }

func (d *Driver) isDeleted(channel string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.deleted[channel]
}

// exists reports whether the catalog lists channel.
func (d *Driver) exists(ctx context.Context, channel string) (bool, error) {
	if d.isDeleted(channel) {
		return false, nil
	}
	c, err := d.session(ctx)
	if err != nil {
		return false, err
	}
	n, err := browse(ctx, c, d.catalog(), catalogSelector(channel))
	return n > 0, err
}

// mustExist answers NotFound for a channel the catalog does not list.
func (d *Driver) mustExist(ctx context.Context, what, channel string) error {
	ok, err := d.exists(ctx, channel)
	if err != nil {
		return d.wrap(err, what, channel)
	}
	if !ok {
		return errcode.Errorf(errcode.NotFound, "activemq: %s %q: the channel does not exist (was its route deleted?)", what, channel)
	}
	return nil
}

// EnsureChannel implements adapters.Provisioner: it lists the channel in
// the catalog. The queue itself the broker makes when it is first used.
func (d *Driver) EnsureChannel(ctx context.Context, channel string) error {
	if !validName(channel) {
		return errcode.Errorf(errcode.InvalidArgument, "activemq: channel %q: names hold letters, digits, '.', '_' and '-'", channel)
	}
	d.mu.Lock()
	delete(d.deleted, channel)
	d.mu.Unlock()
	ok, err := d.exists(ctx, channel)
	if err != nil {
		return d.wrap(err, "create", channel)
	}
	if ok {
		return nil
	}
	c, err := d.session(ctx)
	if err != nil {
		return err
	}
	h := map[string]string{"destination": d.catalog(), "persistent": "true", catalogHeader: channel}
	if err := c.Send(ctx, h, nil); err != nil {
		return d.wrap(err, "create", channel)
	}
	return nil
}

// DeleteChannel implements adapters.Provisioner: this driver's
// subscriptions of the channel end (answering NotFound from then on), the
// queue is drained, and the catalog forgets the channel. STOMP cannot
// remove a queue from the broker: the empty queue stays until the broker
// discards it (gcInactiveDestinations) or is restarted.
func (d *Driver) DeleteChannel(ctx context.Context, channel string) error {
	d.mu.Lock()
	d.deleted[channel] = true
	var subs []*subscription
	for s := range d.subs {
		if s.channel == channel {
			subs = append(subs, s)
		}
	}
	d.mu.Unlock()
	for _, s := range subs {
		s.gone(ctx)
	}
	c, err := d.session(ctx)
	if err != nil {
		return err
	}
	if err := drain(ctx, c, d.queue(channel), ""); err != nil {
		return d.wrap(err, "delete", channel)
	}
	for range 10 {
		n, err := browse(ctx, c, d.catalog(), catalogSelector(channel))
		if err != nil {
			return d.wrap(err, "delete", channel)
		}
		if n == 0 {
			return nil
		}
		if err := drain(ctx, c, d.catalog(), catalogSelector(channel)); err != nil {
			return d.wrap(err, "delete", channel)
		}
	}
	return errcode.Errorf(errcode.Unavailable, "activemq: delete %q: the catalog still lists it after 10 attempts: try again", channel)
}

// Depth implements adapters.Provisioner by browsing the queue: messages
// delivered and not yet acked count, messages still scheduled for later do
// not. A browse sees at most the broker's maxBrowsePageSize messages
// (ActiveMQ's default is 400), so a deeper queue reads as that deep.
func (d *Driver) Depth(ctx context.Context, channel string) (int64, error) {
	if err := d.mustExist(ctx, "count", channel); err != nil {
		return 0, err
	}
	c, err := d.session(ctx)
	if err != nil {
		return 0, err
	}
	n, err := browse(ctx, c, d.queue(channel), "")
	if err != nil {
		return 0, d.wrap(err, "count", channel)
	}
	return int64(n), nil
}

// Purge implements adapters.Provisioner: it takes every message the
// broker hands it until the queue is quiet. Messages a subscriber holds
// stay, as do messages still scheduled for later.
func (d *Driver) Purge(ctx context.Context, channel string) error {
	if err := d.mustExist(ctx, "purge", channel); err != nil {
		return err
	}
	c, err := d.session(ctx)
	if err != nil {
		return err
	}
	if err := drain(ctx, c, d.queue(channel), ""); err != nil {
		return d.wrap(err, "purge", channel)
	}
	return nil
}

// OpenChannel implements adapters.Driver.
func (d *Driver) OpenChannel(ctx context.Context, channel string) (driver.Topic, error) {
	if err := d.mustExist(ctx, "open", channel); err != nil {
		return nil, err
	}
	return &topic{d: d, dest: d.queue(channel), name: channel, channel: true}, nil
}

// OpenTopic implements adapters.TopicOpener. A topic named "/queue/N" or
// "/topic/N" is that destination; any other name N is "/topic/N". The
// broker makes a destination when it is first used, so there is nothing
// to declare.
func (d *Driver) OpenTopic(_ context.Context, name string) (driver.Topic, error) {
	dest := name
	if !strings.HasPrefix(name, "/queue/") && !strings.HasPrefix(name, "/topic/") {
		dest = "/topic/" + name
	}
	if base := dest[strings.LastIndexByte(dest, '/')+1:]; base == "" || strings.ContainsAny(base, "*>, \t\r\n") {
		return nil, errcode.Errorf(errcode.InvalidArgument, "activemq topic %q is not a destination one can send to: name one queue or topic, without wildcards, commas or spaces", name)
	}
	return &topic{d: d, dest: dest, name: name}, nil
}

// OpenSubscription implements adapters.Driver.
func (d *Driver) OpenSubscription(ctx context.Context, channel string, opts adapters.SubscriptionOptions) (driver.Subscription, error) {
	if err := d.mustExist(ctx, "subscribe to", channel); err != nil {
		return nil, err
	}
	s := &subscription{d: d, channel: channel, prefetch: opts.MaxInflight, changed: make(chan struct{})}
	s.mu.Lock()
	err := s.connect(ctx)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.subs[s] = true
	d.mu.Unlock()
	return s, nil
}

// browse counts the messages of dest (matching selector, if any) without
// taking them.
func browse(ctx context.Context, c *stomp.Conn, dest, selector string) (int, error) {
	h := map[string]string{"destination": dest, "ack": "auto", "browser": "true"}
	if selector != "" {
		h["selector"] = selector
	}
	sub, err := c.Subscribe(ctx, h, 256)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		select {
		case f := <-sub.C():
			if f.Headers["browser"] == "end" {
				return n, sub.Unsubscribe(ctx)
			}
			n++
		case <-c.Done():
			return 0, c.Err()
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// drainQuiet is how long drain waits for one more message before it takes
// the queue for empty.
const drainQuiet = 250 * time.Millisecond

// drain takes the messages of dest (matching selector, if any) that the
// broker hands out until none comes for drainQuiet.
func drain(ctx context.Context, c *stomp.Conn, dest, selector string) error {
	h := map[string]string{"destination": dest, "ack": "auto", "activemq.prefetchSize": "1000"}
	if selector != "" {
		h["selector"] = selector
	}
	sub, err := c.Subscribe(ctx, h, 1024)
	if err != nil {
		return err
	}
	quiet := time.NewTimer(drainQuiet)
	defer quiet.Stop()
	for {
		select {
		case <-sub.C():
			quiet.Reset(drainQuiet)
		case <-quiet.C:
			return sub.Unsubscribe(ctx)
		case <-c.Done():
			return c.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// wrap gives err its errcode.Code, once, with what was done to which
// channel and what to do about it.
func (d *Driver) wrap(err error, what, channel string) error {
	if errcode.Of(err) != errcode.Unknown {
		return err
	}
	var se *stomp.Error
	code, hint := errcode.Unavailable, ": the broker is unreachable; the next call connects again"
	switch {
	case errors.As(err, &se):
		code, hint = errcode.FailedPrecondition, ": the broker refused it"
	case errors.Is(err, stomp.ErrFrameTooLarge):
		code, hint = errcode.Internal, ""
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, stomp.ErrClosed), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
	}
	if channel == "" {
		return errcode.Errorf(code, "activemq: %s: %v%s", what, err, hint)
	}
	return errcode.Errorf(code, "activemq: %s %q: %v%s", what, channel, err, hint)
}
