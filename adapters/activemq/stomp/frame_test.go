package stomp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"time"
)

func read(s string) (*Frame, error) {
	return ReadFrame(bufio.NewReader(strings.NewReader(s)), DefaultLimits)
}

func TestReadFrameFollowsSTOMP12(t *testing.T) {
	cases := []struct {
		name    string
		wire    string
		want    Frame
		wantErr bool
	}{
		{
			name: "HeadersAreUnescapedInAMessage",
			wire: "MESSAGE\nce-source:https\\c//x\\n\\r\\\\y\n\nbody\x00",
			want: Frame{Command: "MESSAGE", Headers: map[string]string{"ce-source": "https://x\n\r\\y"}, Body: []byte("body")},
		},
		{
			name: "ConnectedIsNotUnescaped",
			wire: "CONNECTED\nserver:a\\cb\n\n\x00",
			want: Frame{Command: "CONNECTED", Headers: map[string]string{"server": `a\cb`}},
		},
		{
			name: "TheFirstOfARepeatedHeaderCounts",
			wire: "MESSAGE\nfoo:first\nfoo:second\n\n\x00",
			want: Frame{Command: "MESSAGE", Headers: map[string]string{"foo": "first"}},
		},
		{
			name: "ContentLengthBodyMayHoldNUL",
			wire: "MESSAGE\ncontent-length:3\n\na\x00b\x00",
			want: Frame{Command: "MESSAGE", Headers: map[string]string{"content-length": "3"}, Body: []byte("a\x00b")},
		},
		{
			name: "HeartBeatsAndCRLFAreSkipped",
			wire: "\n\r\n\nRECEIPT\r\nreceipt-id:7\r\n\r\n\x00",
			want: Frame{Command: "RECEIPT", Headers: map[string]string{"receipt-id": "7"}},
		},
		{
			name: "AValueMayHoldColons",
			wire: "ERROR\nmessage:a:b\n\n\x00",
			want: Frame{Command: "ERROR", Headers: map[string]string{"message": "a:b"}},
		},
		{name: "AnUndefinedEscapeIsAnError", wire: "MESSAGE\nfoo:\\t\n\n\x00", wantErr: true},
		{name: "AHeaderWithoutColonIsAnError", wire: "MESSAGE\nfoo\n\n\x00", wantErr: true},
		{name: "ANegativeContentLengthIsAnError", wire: "MESSAGE\ncontent-length:-1\n\n\x00", wantErr: true},
		{name: "ContentLengthNotFollowedByNULIsAnError", wire: "MESSAGE\ncontent-length:1\n\nab\x00", wantErr: true},
		{name: "ATruncatedFrameIsAnError", wire: "MESSAGE\nfoo:bar\n\nbody", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := read(c.wire)
			if c.wantErr {
				if err == nil {
					t.Fatalf("read %q as %+v, want an error: a malformed frame must not be taken for a message", c.wire, f)
				}
				return
			}
			if err != nil {
				t.Fatalf("read %q: %v", c.wire, err)
			}
			if f.Command != c.want.Command || !maps.Equal(f.Headers, c.want.Headers) || !bytes.Equal(f.Body, c.want.Body) {
				t.Fatalf("read %q as %+v, want %+v", c.wire, f, c.want)
			}
		})
	}
}

func TestReadFrameKeepsToItsLimits(t *testing.T) {
	lim := Limits{MaxHeaders: 2, MaxHeaderBytes: 64, MaxBodyBytes: 8}
	cases := map[string]string{
		"TooManyHeaders":              "MESSAGE\na:1\nb:2\nc:3\n\n\x00",
		"HeaderLinesTooLong":          "MESSAGE\na:" + strings.Repeat("x", 100) + "\n\n\x00",
		"ContentLengthOverTheLimit":   "MESSAGE\ncontent-length:9\n\n123456789\x00",
		"UnframedBodyOverTheLimit":    "MESSAGE\n\n123456789\x00",
		"ACommandLineWithoutNewlines": strings.Repeat("M", 100),
	}
	for name, wire := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ReadFrame(bufio.NewReaderSize(strings.NewReader(wire), 16), lim)
			if !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("got %v, want ErrFrameTooLarge: a peer must not make the client buffer without bound", err)
			}
		})
	}
	if _, err := ReadFrame(bufio.NewReaderSize(strings.NewReader("MESSAGE\na:1\nb:2\n\n12345678\x00"), 16), lim); err != nil {
		t.Fatalf("a frame exactly at the limits: %v, want it read", err)
	}
}

func TestWriteFrameReadsBackAsWritten(t *testing.T) {
	in := &Frame{Command: CmdSend, Headers: map[string]string{
		"destination": "/queue/a",
		"ce-source":   "urn:x:y\nz\\",
		"ce-id":       "1",
	}, Body: []byte("bin\x00ary")}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := WriteFrame(w, in); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	want := "SEND\nce-id:1\nce-source:urn\\cx\\cy\\nz\\\\\ndestination:/queue/a\ncontent-length:7\n\nbin\x00ary\x00"
	if buf.String() != want {
		t.Fatalf("wrote %q, want %q: headers sorted and escaped, body framed by content-length", buf.String(), want)
	}
	out, err := ReadFrame(bufio.NewReader(&buf), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	delete(out.Headers, "content-length")
	if out.Command != in.Command || !maps.Equal(out.Headers, in.Headers) || !bytes.Equal(out.Body, in.Body) {
		t.Fatalf("read back %+v, want %+v", out, in)
	}
}

func TestConnectRefusesHeadersItCannotCarry(t *testing.T) {
	w := bufio.NewWriter(io.Discard)
	err := WriteFrame(w, &Frame{Command: CmdConnect, Headers: map[string]string{"passcode": "a\nb"}})
	if err == nil {
		t.Fatal("wrote a CONNECT header holding a newline: CONNECT is not escaped, so it would forge a header")
	}
}

func TestNegotiateHeartBeats(t *testing.T) {
	cases := []struct {
		name       string
		mine       string
		theirs     string
		send, recv string
	}{
		{"NoneWhenTheServerWantsNone", "10s", "0,0", "0s", "0s"},
		{"TheSlowerOfTheTwoIntervals", "10s", "20000,5000", "10s", "40s"},
		{"NoneWhenTheClientAsksNone", "0s", "1000,1000", "0s", "0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mine, _ := time.ParseDuration(c.mine)
			send, recv := negotiate(mine, c.theirs)
			if send.String() != c.send || recv.String() != c.recv {
				t.Fatalf("negotiate(%s, %q) = %v, %v; want %s, %s", c.mine, c.theirs, send, recv, c.send, c.recv)
			}
		})
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("MESSAGE\nce-id:1\ncontent-length:3\n\nabc\x00"))
	f.Add([]byte("\n\nRECEIPT\r\nreceipt-id:7\r\n\r\n\x00"))
	f.Add([]byte("ERROR\nmessage:x\\c\\n\n\nbody\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := Limits{MaxHeaders: 16, MaxHeaderBytes: 256, MaxBodyBytes: 256}
		fr, err := ReadFrame(bufio.NewReaderSize(bytes.NewReader(b), 16), lim)
		if err != nil {
			return
		}
		if len(fr.Headers) > lim.MaxHeaders || len(fr.Body) > lim.MaxBodyBytes {
			t.Fatalf("read a frame over its limits: %d headers, %d body bytes", len(fr.Headers), len(fr.Body))
		}
		// A frame read is one the client writes back the same.
		if fr.Command == CmdConnect || fr.Command == CmdConnected || strings.ContainsAny(fr.Command, "\r\n") {
			return
		}
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		if err := WriteFrame(w, fr); err != nil {
			t.Fatalf("writing back a frame read: %v", err)
		}
		_ = w.Flush()
		again, err := ReadFrame(bufio.NewReader(&buf), DefaultLimits)
		if err != nil {
			t.Fatalf("reading back %q: %v", buf.Bytes(), err)
		}
		delete(again.Headers, "content-length")
		delete(fr.Headers, "content-length")
		if again.Command != fr.Command || !maps.Equal(again.Headers, fr.Headers) || !bytes.Equal(again.Body, fr.Body) {
			t.Fatalf("round trip changed the frame: %+v became %+v", fr, again)
		}
	})
}
