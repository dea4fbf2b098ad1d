package stomp

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// fakeServer accepts one connection, answers CONNECT with connected, and
// then hands each frame the client sends to serve, which writes what it
// wants back.
func fakeServer(t *testing.T, connected string, serve func(f *Frame, w *bufio.Writer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		r, w := bufio.NewReader(nc), bufio.NewWriter(nc)
		if _, err := ReadFrame(r, DefaultLimits); err != nil {
			return
		}
		_, _ = w.WriteString(connected)
		_ = w.Flush()
		for {
			f, err := ReadFrame(r, DefaultLimits)
			if err != nil {
				return
			}
			serve(f, w)
			_ = w.Flush()
		}
	}()
	return ln.Addr().String()
}

const connected12 = "CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00"

func TestAnErrorFrameFailsTheWaitingSendAndEndsTheConnection(t *testing.T) {
	addr := fakeServer(t, connected12, func(f *Frame, w *bufio.Writer) {
		_ = WriteFrame(w, &Frame{Command: CmdError, Headers: map[string]string{
			"message": "not allowed", "receipt-id": f.Headers["receipt"],
		}, Body: []byte("User is not authorized to write to: queue://x\nat ...")})
	})
	c, err := Dial(t.Context(), addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Send(t.Context(), map[string]string{"destination": "/queue/x"}, []byte("a"))
	var se *Error
	if !errors.As(err, &se) || se.Message != "not allowed" {
		t.Fatalf("Send = %v, want the server's ERROR as *Error: a refused send must not pass for a stored one", err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the connection still lasts after an ERROR frame: the server closes it, so every later call would hang")
	}
	if err := c.Send(t.Context(), map[string]string{"destination": "/queue/x"}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after the ERROR = %v, want ErrClosed", err)
	}
}

func TestAServerThatDropsTheConnectionFailsTheWaitingSend(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		r, w := bufio.NewReader(nc), bufio.NewWriter(nc)
		_, _ = ReadFrame(r, DefaultLimits)
		_, _ = w.WriteString(connected12)
		_ = w.Flush()
		_, _ = ReadFrame(r, DefaultLimits) // the SEND: no receipt comes
		_ = nc.Close()
	}()
	c, err := Dial(t.Context(), ln.Addr().String(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = c.Send(ctx, map[string]string{"destination": "/queue/x"}, nil)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want the connection's end as the error: a send the broker never confirmed is not stored", err)
	}
}

func TestASilentServerEndsTheConnectionAfterTwiceItsHeartBeat(t *testing.T) {
	addr := fakeServer(t, "CONNECTED\nversion:1.2\nheart-beat:100,100\n\n\x00", func(*Frame, *bufio.Writer) {})
	c, err := Dial(t.Context(), addr, Options{HeartBeat: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a server silent past its heart-beat still counts as connected: a vanished broker would go unnoticed")
	}
}

func TestConnectRefusesAServerThatIsNotSTOMP12(t *testing.T) {
	addr := fakeServer(t, "CONNECTED\nversion:1.0\n\n\x00", func(*Frame, *bufio.Writer) {})
	if _, err := Dial(t.Context(), addr, Options{}); err == nil {
		t.Fatal("Dial accepted a STOMP 1.0 server: its headers are not escaped and it has no NACK or heart-beats")
	}
}
