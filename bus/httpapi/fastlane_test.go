package httpapi

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// The fast lane's ingress hands the handler the request net/http would
// have: every header line (repeats kept, in order), Host apart, and the
// body; and a second request on the same call holds nothing of the first.
func TestFastLaneRequestIsWhatNetHTTPWouldRead(t *testing.T) {
	raws := []string{
		"POST /events HTTP/1.1\r\nHost: bus\r\nCe-Id: 1\r\nce-source: /s\r\nX-Tag: a\r\nX-Tag: b\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"POST /events HTTP/1.1\r\nHost: bus\r\nCe-Id: 2\r\nContent-Length: 3\r\n\r\n[1]",
		// The first's header order again: values alike and unlike.
		"POST /events HTTP/1.1\r\nHost: bus\r\nCe-Id: 2\r\nce-source: /t\r\nX-Tag: a\r\nX-Tag: c\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"POST /events HTTP/1.1\r\nHost: bus\r\nCe-Id: 3\r\nce-source: /t\r\nX-Tag: b\r\nX-Tag: c\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
	}
	call := &ingressCall{header: http.Header{}, answer: http.Header{}}
	base := (&http.Request{}).WithContext(context.Background())
	for _, raw := range raws {
		// Read as the fast server reads: headers, then the body as a stream.
		var ctx fasthttp.RequestCtx
		br := bufio.NewReader(strings.NewReader(raw))
		if err := ctx.Request.Header.Read(br); err != nil {
			t.Fatal(err)
		}
		if err := ctx.Request.ContinueReadBodyStream(br, prefetchBytes); err != nil {
			t.Fatal(err)
		}
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		wantBody, _ := io.ReadAll(want.Body)
		got := call.request(base, &ctx)
		gotBody, _ := io.ReadAll(got.Body)
		if !reflect.DeepEqual(got.Header, want.Header) || got.Host != want.Host || string(gotBody) != string(wantBody) || got.ContentLength != want.ContentLength {
			t.Errorf("from %q:\n got %v host %q body %q (%d)\nwant %v host %q body %q (%d)", raw,
				got.Header, got.Host, gotBody, got.ContentLength, want.Header, want.Host, wantBody, want.ContentLength)
		}
	}
}

// A request whose header values are those of the call's previous request,
// in the same places, shares their strings instead of copying them again;
// none of them is the server's buffer, which the next request reuses.
func TestFastLaneReusesTheValuesARequestRepeats(t *testing.T) {
	call := &ingressCall{header: http.Header{}, answer: http.Header{}}
	base := (&http.Request{}).WithContext(context.Background())
	var ctx fasthttp.RequestCtx // one, as the server keeps one per connection
	source := func(id, source string) string {
		ctx.Request.Reset()
		raw := "POST /events HTTP/1.1\r\nHost: bus\r\nCe-Id: " + id + "\r\nCe-Source: " + source + "\r\nContent-Length: 0\r\n\r\n"
		if err := ctx.Request.Header.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			t.Fatal(err)
		}
		r := call.request(base, &ctx)
		if got := r.Header.Get("Ce-Id"); got != id {
			t.Fatalf("Ce-Id %q, want %q", got, id)
		}
		return r.Header.Get("Ce-Source")
	}
	first, second := source("1", "/shop"), source("2", "/shop")
	if first != "/shop" || unsafe.StringData(first) != unsafe.StringData(second) {
		t.Errorf("Ce-Source %q then %q, at %p then %p: want /shop, one string", first, second, unsafe.StringData(first), unsafe.StringData(second))
	}
	if third := source("3", "/cart"); third != "/cart" || first != "/shop" {
		t.Errorf("after a request from /cart (read as %q), the first request's source reads %q; want /shop", third, first)
	}
}

// flakyListener fails its first Accept with too many open files.
type flakyListener struct {
	net.Listener
	failed bool
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if !l.failed {
		l.failed = true
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// A process out of file descriptors for a moment keeps serving, as
// net/http's server does: the accept is tried again.
func TestAcceptRetriesTooManyOpenFiles(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := retryingListener{&flakyListener{Listener: ln}, slog.New(slog.DiscardHandler)}.Accept()
		if c != nil {
			c.Close()
		}
		accepted <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := <-accepted; err != nil {
		t.Fatalf("Accept after one EMFILE: %v; want the connection", err)
	}
}
