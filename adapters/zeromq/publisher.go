package zeromq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/go-zeromq/zmq4"
)

// PublisherOptions configure a Publisher.
type PublisherOptions struct {
	// Addr is host:port: where the PUB socket binds, or, with Connect,
	// the peer it connects to (and reconnects to when the connection ends).
	Addr    string
	Connect bool
	// HWM is the queue of each subscriber, in messages; at least 1.
	HWM int
	// Drop makes Publish skip a subscriber whose queue is full instead of
	// waiting for room.
	Drop bool
	Log  *slog.Logger
}

// Publisher is a PUB socket with one bounded queue and one writer per
// subscriber.
type Publisher struct {
	opts   PublisherOptions
	ln     net.Listener // nil with Connect
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	peers map[*peer]struct{}
}

// peer is one connected subscriber.
type peer struct {
	conn  *zmq4.Conn
	guard *guardConn
	q     chan zmq4.Msg
	done  chan struct{}
	once  sync.Once

	mu     sync.RWMutex
	prefix map[string]struct{}
}

// NewPublisher binds (or, with Connect, starts connecting) the PUB socket.
// A bind that fails (the address is in use) is an error here; a connect
// that fails is retried until Close.
func NewPublisher(opts PublisherOptions) (*Publisher, error) {
	if opts.HWM < 1 {
		return nil, fmt.Errorf("zeromq: HWM %d: must be at least 1", opts.HWM)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{opts: opts, peers: map[*peer]struct{}{}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if opts.Connect {
		p.wg.Go(func() {
			redial(p.ctx, opts.Addr, func(c net.Conn) error {
				pe, err := p.attach(c, false)
				if err != nil {
					return err
				}
				select {
				case <-pe.done:
				case <-p.ctx.Done():
				}
				return nil
			}, func(err error) {
				opts.Log.Warn("ZeroMQ publisher cannot connect; retrying", "addr", opts.Addr, "err", err)
			})
		})
		return p, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(p.ctx, "tcp", opts.Addr)
	if err != nil {
		p.cancel()
		return nil, fmt.Errorf("binding the ZeroMQ PUB socket: %w", err)
	}
	p.ln = ln
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the address the socket is bound to (useful with port 0), or the
// address it connects to.
func (p *Publisher) Addr() string {
	if p.ln != nil {
		return p.ln.Addr().String()
	}
	return p.opts.Addr
}

func (p *Publisher) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.ctx.Err() == nil {
				p.opts.Log.Error("ZeroMQ PUB socket stopped accepting", "addr", p.Addr(), "err", err)
			}
			return
		}
		p.mu.Lock()
		full := len(p.peers) >= MaxPeers
		p.mu.Unlock()
		if full {
			p.opts.Log.Warn("ZeroMQ PUB socket refused a subscriber: too many connected", "addr", p.Addr(), "max", MaxPeers)
			c.Close()
			continue
		}
		p.wg.Go(func() {
			if _, err := p.attach(c, true); err != nil {
				p.opts.Log.Warn("ZeroMQ subscriber refused", "addr", p.Addr(), "err", err)
			}
		})
	}
}

// attach runs the handshake on c and starts the peer's reader and writer.
func (p *Publisher) attach(c net.Conn, server bool) (*peer, error) {
	// Close stops a handshake in progress.
	stop := context.AfterFunc(p.ctx, func() { c.Close() })
	defer stop()
	// A subscriber sends subscriptions only, each one frame.
	zc, g, err := handshake(c, zmq4.Pub, server, MaxSubscriptionBytes+1)
	if err != nil {
		return nil, err
	}
	pe := &peer{conn: zc, guard: g, q: make(chan zmq4.Msg, p.opts.HWM), done: make(chan struct{}), prefix: map[string]struct{}{}}
	p.mu.Lock()
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		zc.Close()
		return nil, errors.New("publisher closed")
	}
	p.peers[pe] = struct{}{}
	p.mu.Unlock()
	p.wg.Go(func() { p.read(pe) })
	p.wg.Go(func() { p.write(pe) })
	return pe, nil
}

func (p *Publisher) detach(pe *peer, why error) {
	pe.once.Do(func() {
		close(pe.done)
		pe.conn.Close()
		p.mu.Lock()
		delete(p.peers, pe)
		p.mu.Unlock()
		if why != nil && p.ctx.Err() == nil {
			p.opts.Log.Info("ZeroMQ subscriber left", "addr", p.Addr(), "reason", why)
		}
	})
}

// read takes the subscriber's subscriptions: one frame, 1 then the prefix
// to subscribe, 0 then the prefix to unsubscribe.
func (p *Publisher) read(pe *peer) {
	for {
		msg, err := pe.conn.RecvMsg()
		if err != nil {
			p.detach(pe, err)
			return
		}
		if msg.Type == zmq4.CmdMsg {
			// zmq4 answered a PING: send the PONG now.
			if err := pe.guard.flush(); err != nil {
				p.detach(pe, err)
				return
			}
			continue
		}
		if len(msg.Frames) != 1 || len(msg.Frames[0]) == 0 {
			continue
		}
		f := msg.Frames[0]
		pe.mu.Lock()
		switch f[0] {
		case 1:
			if len(pe.prefix) >= MaxSubscriptions {
				pe.mu.Unlock()
				p.detach(pe, fmt.Errorf("more than %d subscriptions", MaxSubscriptions))
				return
			}
			pe.prefix[string(f[1:])] = struct{}{}
		case 0:
			delete(pe.prefix, string(f[1:]))
		}
		pe.mu.Unlock()
	}
}

func (p *Publisher) write(pe *peer) {
	for {
		select {
		case <-pe.done:
			return
		case msg := <-pe.q:
			err := pe.conn.SendMsg(msg)
			if err == nil && len(pe.q) == 0 {
				err = pe.guard.flush()
			}
			if err != nil {
				p.detach(pe, err)
				return
			}
		}
	}
}

func (pe *peer) wants(topic string) bool {
	pe.mu.RLock()
	defer pe.mu.RUnlock()
	for pre := range pe.prefix {
		if strings.HasPrefix(topic, pre) {
			return true
		}
	}
	return false
}

// Publish queues a two-frame message, topic then body, for every
// subscriber whose subscription is a prefix of topic. In drop mode it
// returns at once with the number of subscribers whose queue was full; in
// block mode it waits for room and fails only when ctx ends, after the
// subscribers before the stalled one have been sent the message.
func (p *Publisher) Publish(ctx context.Context, topic string, body []byte) (dropped int, err error) {
	msg := zmq4.NewMsgFrom([]byte(topic), body)
	p.mu.Lock()
	targets := make([]*peer, 0, len(p.peers))
	for pe := range p.peers {
		targets = append(targets, pe)
	}
	p.mu.Unlock()
	for _, pe := range targets {
		if !pe.wants(topic) {
			continue
		}
		if p.opts.Drop {
			select {
			case pe.q <- msg:
			default:
				dropped++
			}
			continue
		}
		select {
		case pe.q <- msg:
		case <-pe.done: // gone: as if it had never subscribed
		case <-ctx.Done():
			return dropped, fmt.Errorf("a ZeroMQ subscriber's queue stayed full (%d messages): %w", p.opts.HWM, ctx.Err())
		case <-p.ctx.Done():
			return dropped, errors.New("the ZeroMQ publisher is closed")
		}
	}
	return dropped, nil
}

// Subscriptions lists the prefixes connected subscribers asked for, sorted,
// one entry per subscriber and prefix.
func (p *Publisher) Subscriptions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for pe := range p.peers {
		pe.mu.RLock()
		for pre := range pe.prefix {
			out = append(out, pre)
		}
		pe.mu.RUnlock()
	}
	slices.Sort(out)
	return out
}

// Close unbinds the socket, disconnects every subscriber (messages still
// queued for them are lost, as with a PUB socket closed with linger 0) and
// waits for its goroutines.
func (p *Publisher) Close() error {
	p.mu.Lock()
	p.cancel()
	peers := make([]*peer, 0, len(p.peers))
	for pe := range p.peers {
		peers = append(peers, pe)
	}
	p.mu.Unlock()
	var err error
	if p.ln != nil {
		err = p.ln.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	}
	for _, pe := range peers {
		p.detach(pe, nil)
	}
	p.wg.Wait()
	return err
}
