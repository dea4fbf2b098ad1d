package zeromq

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
)

// zmq4 allocates every frame at the size its header claims, so a peer
// could make us allocate anything. guardConn reads ZMTP 3.0 frame headers
// as the bytes go by and fails the read that would let through a frame
// larger than maxFrame or a message of more than MaxFrames frames.
//
// It also buffers writes once the handshake is done (zmq4 writes each
// frame header and body separately: four system calls per message
// otherwise); the owner flushes when it has nothing more queued.
type guardConn struct {
	net.Conn
	maxFrame uint64

	wmu sync.Mutex
	bw  *bufio.Writer // nil until buffer is called

	greeting int    // greeting bytes still to skip
	hdr      []byte // header bytes of the frame being read
	body     uint64 // body bytes of the current frame still to come
	frames   int    // frames so far in the current message
}

const (
	greetingLen = 64
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04
)

func newGuardConn(c net.Conn, maxFrame int) *guardConn {
	return &guardConn{Conn: c, maxFrame: uint64(maxFrame), greeting: greetingLen}
}

func (g *guardConn) Write(p []byte) (int, error) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.bw == nil {
		return g.Conn.Write(p)
	}
	return g.bw.Write(p)
}

// buffer starts buffering writes.
func (g *guardConn) buffer() {
	g.wmu.Lock()
	g.bw = bufio.NewWriterSize(g.Conn, 64<<10)
	g.wmu.Unlock()
}

// flush writes out what is buffered.
func (g *guardConn) flush() error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.bw == nil {
		return nil
	}
	return g.bw.Flush()
}

func (g *guardConn) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if cerr := g.check(p[:n]); cerr != nil {
		return 0, cerr
	}
	return n, err
}

func (g *guardConn) check(b []byte) error {
	for len(b) > 0 {
		switch {
		case g.greeting > 0:
			k := min(g.greeting, len(b))
			g.greeting -= k
			b = b[k:]
		case g.body > 0:
			k := min(g.body, uint64(len(b)))
			g.body -= k
			b = b[k:]
		default:
			g.hdr = append(g.hdr, b[0])
			b = b[1:]
			flags := g.hdr[0]
			want := 2
			if flags&flagLong != 0 {
				want = 9
			}
			if len(g.hdr) < want {
				continue
			}
			size := uint64(g.hdr[1])
			if want == 9 {
				size = binary.BigEndian.Uint64(g.hdr[1:9])
			}
			g.hdr = g.hdr[:0]
			if size > g.maxFrame {
				return fmt.Errorf("peer sent a %d-byte frame, more than the limit of %d: closing the connection", size, g.maxFrame)
			}
			if flags&flagCommand == 0 {
				g.frames++
				if g.frames > MaxFrames {
					return fmt.Errorf("peer sent a message of more than %d frames: closing the connection", MaxFrames)
				}
				if flags&flagMore == 0 {
					g.frames = 0
				}
			}
			g.body = size
		}
	}
	return nil
}
