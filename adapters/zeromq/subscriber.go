package zeromq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/go-zeromq/zmq4"
)

// SubscriberOptions configure a Subscriber.
type SubscriberOptions struct {
	// Endpoints are the publishers' host:port; the Subscriber connects to
	// each and reconnects when a connection ends.
	Endpoints []string
	// Subscribe are the topic prefixes asked of every publisher; empty
	// means everything.
	Subscribe []string
	// MaxFrameBytes bounds one frame; 0 means DefaultMaxFrameBytes. A
	// publisher that sends a larger one is disconnected (and reconnected).
	MaxFrameBytes int
	Log           *slog.Logger
}

// Handler takes one message's frames. It is called from one goroutine per
// endpoint; while it runs, that publisher's messages wait in TCP buffers
// and then in the publisher's own queue, whose high-water mark decides
// what happens next.
type Handler func(ctx context.Context, frames [][]byte)

// Subscriber is a SUB socket connected to several publishers.
type Subscriber struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	connected map[string]bool
}

// NewSubscriber starts connecting to every endpoint and calls handle for
// each message received, until Close.
func NewSubscriber(opts SubscriberOptions, handle Handler) (*Subscriber, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("zeromq: a subscriber needs at least one endpoint")
	}
	if opts.MaxFrameBytes == 0 {
		opts.MaxFrameBytes = DefaultMaxFrameBytes
	}
	subs := opts.Subscribe
	if len(subs) == 0 {
		subs = []string{""}
	}
	for _, s := range subs {
		if len(s) > MaxSubscriptionBytes {
			return nil, fmt.Errorf("zeromq: subscription of %d bytes: at most %d", len(s), MaxSubscriptionBytes)
		}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscriber{cancel: cancel, connected: map[string]bool{}}
	for _, ep := range opts.Endpoints {
		s.wg.Go(func() {
			redial(ctx, ep, func(c net.Conn) error {
				return s.session(ctx, ep, c, subs, opts, handle)
			}, func(err error) {
				opts.Log.Warn("ZeroMQ source cannot reach a publisher; retrying", "endpoint", ep, "err", err)
			})
		})
	}
	return s, nil
}

// session subscribes on one connection and reads it until it ends.
func (s *Subscriber) session(ctx context.Context, ep string, c net.Conn, subs []string, opts SubscriberOptions, handle Handler) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	zc, g, err := handshake(c, zmq4.Sub, false, opts.MaxFrameBytes)
	if err != nil {
		return err
	}
	defer zc.Close()
	for _, prefix := range subs {
		if err := zc.SendMsg(zmq4.NewMsg(append([]byte{1}, prefix...))); err != nil {
			return err
		}
	}
	if err := g.flush(); err != nil {
		return err
	}
	s.setConnected(ep, true)
	defer s.setConnected(ep, false)
	opts.Log.Info("ZeroMQ source connected", "endpoint", ep)
	for {
		msg, err := zc.RecvMsg()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("connection lost: %w", err)
		}
		if msg.Type == zmq4.CmdMsg {
			if err := g.flush(); err != nil { // the PONG zmq4 wrote
				return err
			}
			continue
		}
		handle(ctx, msg.Frames)
	}
}

func (s *Subscriber) setConnected(ep string, up bool) {
	s.mu.Lock()
	s.connected[ep] = up
	s.mu.Unlock()
}

// Connected reports how many endpoints have a connection whose
// subscriptions were sent.
func (s *Subscriber) Connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, up := range s.connected {
		if up {
			n++
		}
	}
	return n
}

// Close disconnects from every publisher and waits until no handler runs.
func (s *Subscriber) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}
