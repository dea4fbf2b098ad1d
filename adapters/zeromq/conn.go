package zeromq

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// Limits on what a peer may send.
const (
	// MaxFrames bounds the frames of one message.
	MaxFrames = 16
	// MaxSubscriptions bounds the subscriptions of one subscriber.
	MaxSubscriptions = 1024
	// MaxSubscriptionBytes bounds one subscription prefix.
	MaxSubscriptionBytes = 1024
	// MaxPeers bounds the subscribers connected to one Publisher.
	MaxPeers = 1024
	// HandshakeTimeout bounds the ZMTP greeting and handshake.
	HandshakeTimeout = 5 * time.Second
	// DefaultMaxFrameBytes bounds one frame a Subscriber reads, unless
	// its options say otherwise.
	DefaultMaxFrameBytes = 1 << 20
)

// handshake runs the ZMTP greeting and NULL handshake on c, as a socket of
// type typ, with frames bounded to maxFrame bytes. Writes to the returned
// connection are buffered: flush the guard after the last one queued.
func handshake(c net.Conn, typ zmq4.SocketType, server bool, maxFrame int) (*zmq4.Conn, *guardConn, error) {
	if err := c.SetDeadline(time.Now().Add(HandshakeTimeout)); err != nil {
		c.Close()
		return nil, nil, err
	}
	g := newGuardConn(c, maxFrame)
	zc, err := zmq4.Open(g, null.Security(), typ, nil, server, nil)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("ZeroMQ handshake with %s: %w", c.RemoteAddr(), err)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		zc.Close()
		return nil, nil, err
	}
	g.buffer()
	return zc, g, nil
}

// redial calls connect on addr until ctx ends, waiting between failed
// attempts (100 ms doubling to 5 s, with jitter). connect returns when the
// connection it got is over: nil after a session, an error when the
// handshake failed.
func redial(ctx context.Context, addr string, connect func(net.Conn) error, onErr func(error)) {
	const first, most = 100 * time.Millisecond, 5 * time.Second
	wait := first
	var d net.Dialer
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			if err = connect(c); err == nil {
				wait = first
				continue
			}
		}
		if ctx.Err() != nil {
			return
		}
		onErr(err)
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, most)
	}
}
