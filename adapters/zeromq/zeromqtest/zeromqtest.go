// Package zeromqtest helps tests of ZeroMQ targets play the subscriber
// that misbehaves.
package zeromqtest

import (
	"net"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"

	"github.com/eventbus-go/eventbus/internal/testkit"
)

// StalledSubscriber connects a SUB socket to the PUB at addr (waiting up
// to 10 s for it to listen), subscribes to everything and then never
// reads: its TCP buffers fill and stay full. The test's end closes it.
func StalledSubscriber(t testing.TB, addr string) {
	t.Helper()
	var c net.Conn
	testkit.EventuallyNoError(t, 10*time.Second, func() (err error) {
		c, err = net.Dial("tcp", addr)
		return err
	})
	t.Cleanup(func() { c.Close() })
	zc, err := zmq4.Open(c, null.Security(), zmq4.Sub, nil, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := zc.SendMsg(zmq4.NewMsg([]byte{1})); err != nil {
		t.Fatal(err)
	}
}
