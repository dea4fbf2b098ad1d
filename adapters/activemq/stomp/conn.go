package stomp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options tune a connection. Zero values mean the defaults.
type Options struct {
	// Login and Passcode are the CONNECT frame's credentials.
	Login, Passcode string
	// Host is the CONNECT frame's virtual host; empty means the address's
	// host.
	Host string
	// HeartBeat is how often each side should show it is alive; zero means
	// none.
	HeartBeat time.Duration
	// Limits bound the frames read; zero means DefaultLimits.
	Limits Limits
}

// Error is an ERROR frame from the server.
type Error struct {
	Message string // its message header
	Detail  string // its body
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "stomp server: " + e.Message
	}
	return "stomp server: " + e.Message + ": " + strings.TrimSpace(firstLine(e.Detail))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// ErrClosed reports a call on a connection that has ended.
var ErrClosed = errors.New("stomp: the connection is closed")

// writeTimeout bounds one frame written to a server that reads nothing.
const writeTimeout = 30 * time.Second

// Conn is a STOMP 1.2 connection. Its methods may be called from several
// goroutines at once.
type Conn struct {
	nc  net.Conn
	lim Limits

	wmu       sync.Mutex
	w         *bufio.Writer
	lastWrite time.Time

	mu       sync.Mutex
	receipts map[string]chan error
	subs     map[string]*Subscription
	next     uint64
	err      error // why the connection ended

	done chan struct{}
	once sync.Once
}

// Dial connects to addr (host:port), sends CONNECT and waits for CONNECTED.
func Dial(ctx context.Context, addr string, o Options) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits
	}
	host := o.Host
	if host == "" {
		host, _, _ = net.SplitHostPort(addr)
	}
	hb := strconv.FormatInt(o.HeartBeat.Milliseconds(), 10)
	h := map[string]string{"accept-version": "1.2", "host": host, "heart-beat": hb + "," + hb}
	if o.Login != "" {
		h["login"] = o.Login
		h["passcode"] = o.Passcode
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	c := &Conn{nc: nc, lim: o.Limits, w: bufio.NewWriter(nc), receipts: map[string]chan error{}, subs: map[string]*Subscription{}, done: make(chan struct{})}
	r := bufio.NewReaderSize(nc, 64<<10)
	if err := WriteFrame(c.w, &Frame{Command: CmdConnect, Headers: h}); err != nil {
		nc.Close()
		return nil, err
	}
	if err := c.w.Flush(); err != nil {
		nc.Close()
		return nil, err
	}
	f, err := ReadFrame(r, c.lim)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("stomp: waiting for CONNECTED: %w", err)
	}
	switch f.Command {
	case CmdConnected:
	case CmdError:
		nc.Close()
		return nil, &Error{Message: f.Headers["message"], Detail: string(f.Body)}
	default:
		nc.Close()
		return nil, fmt.Errorf("stomp: the server answered CONNECT with %s", f.Command)
	}
	if v := f.Headers["version"]; v != "1.2" {
		nc.Close()
		return nil, fmt.Errorf("stomp: the server speaks STOMP %q, not 1.2", v)
	}
	_ = nc.SetDeadline(time.Time{})
	send, recv := negotiate(o.HeartBeat, f.Headers["heart-beat"])
	go c.read(r, recv)
	if send > 0 {
		go c.beat(send)
	}
	return c, nil
}

// negotiate returns how often the client must write and the longest the
// server may stay silent, as STOMP's heart-beat header negotiation says,
// with a grace of twice the server's interval.
func negotiate(mine time.Duration, theirs string) (send, recv time.Duration) {
	sx, sy, _ := strings.Cut(theirs, ",")
	ms := func(s string) time.Duration {
		n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		return time.Duration(n) * time.Millisecond
	}
	if mine > 0 && ms(sy) > 0 {
		send = max(mine, ms(sy))
	}
	if mine > 0 && ms(sx) > 0 {
		recv = 2 * max(mine, ms(sx))
	}
	return send, recv
}

// Done is closed when the connection ends; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, or nil while it lasts.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail ends the connection with err, failing every call waiting on it.
func (c *Conn) fail(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		for id, ch := range c.receipts {
			ch <- err
			delete(c.receipts, id)
		}
		c.mu.Unlock()
		close(c.done)
		_ = c.nc.Close()
	})
}

func (c *Conn) read(r *bufio.Reader, silence time.Duration) {
	for {
		if silence > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(silence))
		}
		f, err := ReadFrame(r, c.lim)
		if err != nil {
			c.fail(fmt.Errorf("stomp: reading: %w", err))
			return
		}
		switch f.Command {
		case CmdReceipt:
			c.settle(f.Headers["receipt-id"], nil)
		case CmdMessage:
			c.mu.Lock()
			s := c.subs[f.Headers["subscription"]]
			c.mu.Unlock()
			if s != nil {
				select {
				case s.c <- f:
				case <-s.gone:
				case <-c.done:
					return
				}
			}
		case CmdError:
			e := &Error{Message: f.Headers["message"], Detail: string(f.Body)}
			if id := f.Headers["receipt-id"]; id != "" {
				c.settle(id, e)
			}
			c.fail(e)
			return
		}
	}
}

func (c *Conn) settle(id string, err error) {
	c.mu.Lock()
	ch := c.receipts[id]
	delete(c.receipts, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- err
	}
}

// beat writes a newline whenever nothing was written for every.
func (c *Conn) beat(every time.Duration) {
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.wmu.Lock()
			if time.Since(c.lastWrite) >= every/2 {
				_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
				c.w.WriteByte('\n')
				if err := c.w.Flush(); err != nil {
					c.wmu.Unlock()
					c.fail(fmt.Errorf("stomp: writing a heart-beat: %w", err))
					return
				}
				c.lastWrite = time.Now()
			}
			c.wmu.Unlock()
		}
	}
}

func (c *Conn) write(f *Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.done:
		return c.closedErr()
	default:
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	err := WriteFrame(c.w, f)
	if err == nil {
		err = c.w.Flush()
	}
	if err != nil {
		c.fail(fmt.Errorf("stomp: writing %s: %w", f.Command, err))
		return c.closedErr()
	}
	c.lastWrite = time.Now()
	return nil
}

func (c *Conn) closedErr() error {
	if err := c.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return ErrClosed
}

func (c *Conn) id() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	return strconv.FormatUint(c.next, 10)
}

// request writes f with a receipt header and waits for the RECEIPT.
func (c *Conn) request(ctx context.Context, f *Frame) error {
	id := c.id()
	ch := make(chan error, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return c.closedErr()
	}
	c.receipts[id] = ch
	c.mu.Unlock()
	f.Headers["receipt"] = id
	if err := c.write(f); err != nil {
		c.settle(id, nil) // forget the waiter
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.receipts, id)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Send sends a SEND frame with headers (destination among them) and body,
// and returns once the server's RECEIPT for it came.
func (c *Conn) Send(ctx context.Context, headers map[string]string, body []byte) error {
	return c.request(ctx, &Frame{Command: CmdSend, Headers: headers, Body: body})
}

// Subscription receives the MESSAGE frames of one SUBSCRIBE.
type Subscription struct {
	c    chan *Frame
	conn *Conn
	id   string
	gone chan struct{}
	once sync.Once
}

// Subscribe sends a SUBSCRIBE frame with headers (destination, ack and
// any server-specific ones) and an id of its own, and returns once the
// server's RECEIPT came. Up to buffer MESSAGEs wait for C; beyond that the
// connection's reader waits, so read C steadily.
func (c *Conn) Subscribe(ctx context.Context, headers map[string]string, buffer int) (*Subscription, error) {
	s := &Subscription{c: make(chan *Frame, buffer), conn: c, id: "s" + c.id(), gone: make(chan struct{})}
	c.mu.Lock()
	c.subs[s.id] = s
	c.mu.Unlock()
	headers["id"] = s.id
	if err := c.request(ctx, &Frame{Command: CmdSubscribe, Headers: headers}); err != nil {
		s.forget()
		return nil, err
	}
	return s, nil
}

// C delivers the subscription's MESSAGE frames.
func (s *Subscription) C() <-chan *Frame { return s.c }

// Conn is the connection the subscription was made on.
func (s *Subscription) Conn() *Conn { return s.conn }

func (s *Subscription) forget() {
	s.once.Do(func() {
		s.conn.mu.Lock()
		delete(s.conn.subs, s.id)
		s.conn.mu.Unlock()
		close(s.gone)
	})
}

// Unsubscribe ends the subscription and waits for the server's RECEIPT.
// Messages not acked go back to the server's queue.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	s.forget()
	return s.conn.request(ctx, &Frame{Command: CmdUnsubscribe, Headers: map[string]string{"id": s.id}})
}

// Ack acknowledges the message whose MESSAGE frame carried this ack header.
// It asks for no receipt: acks are not waited for, as the server delivers
// again what it never saw acked.
func (c *Conn) Ack(ack string) error {
	return c.write(&Frame{Command: CmdAck, Headers: map[string]string{"id": ack}})
}

// Close sends DISCONNECT, waits for its RECEIPT (so the server has seen
// every frame before it) within ctx, and closes the connection. Messages
// delivered and not acked go back to the server's queues.
func (c *Conn) Close(ctx context.Context) error {
	err := c.request(ctx, &Frame{Command: CmdDisconnect, Headers: map[string]string{}})
	c.fail(ErrClosed)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}
