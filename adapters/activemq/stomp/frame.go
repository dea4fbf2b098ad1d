package stomp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Commands used by this client.
const (
	CmdConnect     = "CONNECT"
	CmdConnected   = "CONNECTED"
	CmdSend        = "SEND"
	CmdSubscribe   = "SUBSCRIBE"
	CmdUnsubscribe = "UNSUBSCRIBE"
	CmdAck         = "ACK"
	CmdDisconnect  = "DISCONNECT"
	CmdMessage     = "MESSAGE"
	CmdReceipt     = "RECEIPT"
	CmdError       = "ERROR"
)

// Frame is one STOMP frame. Headers holds each header's first occurrence.
type Frame struct {
	Command string
	Headers map[string]string
	Body    []byte
}

// Limits bound what ReadFrame accepts from a peer.
type Limits struct {
	// MaxHeaders is the most header lines in a frame.
	MaxHeaders int
	// MaxHeaderBytes bounds the command and header lines together.
	MaxHeaderBytes int
	// MaxBodyBytes bounds the body.
	MaxBodyBytes int
}

// DefaultLimits are the limits a Conn reads with unless told otherwise.
var DefaultLimits = Limits{MaxHeaders: 1000, MaxHeaderBytes: 1 << 20, MaxBodyBytes: 16 << 20}

// ErrFrameTooLarge reports a frame over Limits.
var ErrFrameTooLarge = errors.New("stomp: frame over the size limits")

// ReadFrame reads the next frame, skipping heart-beats (blank lines) before
// it.
func ReadFrame(r *bufio.Reader, lim Limits) (*Frame, error) {
	budget := lim.MaxHeaderBytes
	line := func() (string, error) {
		var b []byte
		for {
			chunk, err := r.ReadSlice('\n')
			budget -= len(chunk)
			if budget < 0 {
				return "", ErrFrameTooLarge
			}
			b = append(b, chunk...)
			if err == nil {
				break
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				if errors.Is(err, io.EOF) && len(b) > 0 {
					err = io.ErrUnexpectedEOF
				}
				return "", err
			}
		}
		b = b[:len(b)-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
		return string(b), nil
	}
	var cmd string
	for cmd == "" {
		var err error
		if cmd, err = line(); err != nil {
			return nil, err
		}
		budget = lim.MaxHeaderBytes // heart-beats do not count
	}
	f := &Frame{Command: cmd, Headers: map[string]string{}}
	escaped := cmd != CmdConnect && cmd != CmdConnected
	for n := 0; ; n++ {
		l, err := line()
		if err != nil {
			return nil, unexpected(err)
		}
		if l == "" {
			break
		}
		if n >= lim.MaxHeaders {
			return nil, ErrFrameTooLarge
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("stomp: %s header line %q has no colon", cmd, l)
		}
		if escaped {
			if name, err = unescape(name); err != nil {
				return nil, err
			}
			if value, err = unescape(value); err != nil {
				return nil, err
			}
		}
		if _, dup := f.Headers[name]; !dup {
			f.Headers[name] = value
		}
	}
	if cl, ok := f.Headers["content-length"]; ok {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("stomp: %s content-length %q is not a length", cmd, cl)
		}
		if n > lim.MaxBodyBytes {
			return nil, ErrFrameTooLarge
		}
		f.Body = make([]byte, n+1)
		if _, err := io.ReadFull(r, f.Body); err != nil {
			return nil, unexpected(err)
		}
		if f.Body[n] != 0 {
			return nil, fmt.Errorf("stomp: %s body of content-length %d is not followed by NUL", cmd, n)
		}
		f.Body = f.Body[:n]
		return f, nil
	}
	var body []byte
	for {
		chunk, err := r.ReadSlice(0)
		if len(body)+len(chunk) > lim.MaxBodyBytes+1 {
			return nil, ErrFrameTooLarge
		}
		body = append(body, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, unexpected(err)
		}
	}
	if len(body) > 1 {
		f.Body = body[:len(body)-1]
	}
	return f, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// WriteFrame writes f with its headers sorted by name (so a frame's bytes
// are the same every time), escaped unless f is CONNECT, and a
// content-length for the body.
func WriteFrame(w *bufio.Writer, f *Frame) error {
	escape := f.Command != CmdConnect && f.Command != CmdConnected
	w.WriteString(f.Command)
	w.WriteByte('\n')
	names := make([]string, 0, len(f.Headers))
	for k := range f.Headers {
		if k != "content-length" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		v := f.Headers[k]
		if escape {
			k, v = escaper.Replace(k), escaper.Replace(v)
		} else if strings.ContainsAny(k, ":\n\r") || strings.ContainsAny(v, "\n\r") {
			return fmt.Errorf("stomp: %s header %q cannot hold a newline or (in its name) a colon", f.Command, k)
		}
		w.WriteString(k)
		w.WriteByte(':')
		w.WriteString(v)
		w.WriteByte('\n')
	}
	if len(f.Body) > 0 || f.Command == CmdSend {
		w.WriteString("content-length:")
		w.WriteString(strconv.Itoa(len(f.Body)))
		w.WriteByte('\n')
	}
	w.WriteByte('\n')
	w.Write(f.Body)
	return w.WriteByte(0)
}

var escaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`, ":", `\c`)

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("stomp: header %q ends in a lone backslash", s)
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'c':
			b.WriteByte(':')
		default:
			return "", fmt.Errorf("stomp: header %q has the undefined escape \\%c", s, s[i])
		}
	}
	return b.String(), nil
}
