package httpapi

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// The fast lane's ingress hands the handler the request net/http would
// have: every header line (repeats kept, in order), Host apart, and the
// body; and a second request on the same call holds nothing of the first.
func TestFastLaneRequestIsWhatNetHTTPWouldRead(t *testing.T) {
	raws := []string{
		"POST /events HTTP/1.1\r\nHost: bus\r\nCe-Id: 1\r\nce-source: /s\r\nX-Tag: a\r\nX-Tag: b\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"POST /events HTTP/1.1\r\nHost: bus\r\nCe-Id: 2\r\nContent-Length: 3\r\n\r\n[1]",
	}
	call := &ingressCall{header: http.Header{}, answer: http.Header{}}
	base := (&http.Request{}).WithContext(context.Background())
	for _, raw := range raws {
		var ctx fasthttp.RequestCtx
		if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
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
