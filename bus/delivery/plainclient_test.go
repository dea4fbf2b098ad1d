package delivery

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
	"github.com/eventbus-go/eventbus/verdict"
)

// plainTarget is an HTTP target of a route to url on its own client, as a
// bus opens it.
func plainTarget(t *testing.T, url string, change func(*router.Route)) *HTTPTarget {
	t.Helper()
	r := router.Route{Name: "plain", Bus: router.DefaultBus, Target: router.Target{HTTP: &router.HTTPTarget{
		URL:     url,
		Timeout: spec.Duration(5 * time.Second),
		Headers: map[string]string{"x-tenant": "acme"},
		Signing: &router.Signing{Secret: "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 32))},
	}}}.WithDefaults()
	if change != nil {
		change(&r)
	}
	ht, err := NewHTTPTargets().Open(&r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ht.Close(context.Background()) })
	return ht
}

// A delivery over plain HTTP carries the event in binary mode with the
// route's headers, signature and User-Agent, and the target's answer,
// headers included, decides.
func TestAPlainHTTPDeliveryCarriesTheEventAndReadsTheAnswer(t *testing.T) {
	var got http.Header
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, body = r.Header.Clone(), string(b)
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "busy right now")
	}))
	t.Cleanup(srv.Close)
	ht := plainTarget(t, srv.URL+"/hooks//orders?x=%2F", nil)
	if ht.plain == nil {
		t.Fatal("an http:// target with no proxy is not on the plain client")
	}

	o := ht.Deliver(context.Background(), testEvent("e-1"))
	if o.Verdict != verdict.Retry || o.Status != 503 || o.RetryAfter != 7*time.Second || !strings.Contains(o.Reason, `"busy right now"`) {
		t.Fatalf("outcome %+v; want retry after 7s, status 503, the body in the reason", o)
	}
	for k, want := range map[string]string{
		"Ce-Id": "e-1", "Ce-Source": "test", "Ce-Type": "test.auth", "Ce-Specversion": "1.0",
		"Content-Type": "application/json", "X-Tenant": "acme", "User-Agent": "eventbus",
	} {
		if v := got.Get(k); v != want {
			t.Errorf("header %s = %q; want %q", k, v, want)
		}
	}
	if got.Get(HeaderWebhookSignature) == "" {
		t.Error("the delivery is not signed")
	}
	if body != `{"id":"e-1"}` {
		t.Errorf("body %q; want the event's data", body)
	}
}

// The URL is requested as written, and a redirect is not followed: the
// answer is judged like any status other than 2xx.
func TestAPlainHTTPDeliveryFollowsNoRedirect(t *testing.T) {
	var elsewhere, paths atomic.Int32
	var path atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.Add(1)
		path.Store(r.URL.RawPath + "|" + r.URL.Path + "?" + r.URL.RawQuery)
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	ht := plainTarget(t, srv.URL+"/a//b%2Fc?q=1", nil)

	if o := ht.Deliver(context.Background(), testEvent("e-1")); o.Verdict != verdict.Retry || o.Status != http.StatusTemporaryRedirect {
		t.Fatalf("outcome %+v; want retry with status 307", o)
	}
	if elsewhere.Load() != 0 {
		t.Error("the redirect was followed")
	}
	if p := path.Load(); p != "/a//b%2Fc|/a//b/c?q=1" {
		t.Errorf("the target saw %v; want the URL's path as written", p)
	}
}

// A cancelled delivery (the bus giving up on its attempts at shutdown)
// ends at once, not at its timeout, and the target is reachable again
// afterwards.
func TestAPlainHTTPDeliveryEndsWhenCancelled(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	ht := plainTarget(t, srv.URL, func(r *router.Route) { r.Target.HTTP.Timeout = spec.Duration(time.Minute) })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Outcome, 1)
	go func() { done <- ht.Deliver(ctx, testEvent("e-1")) }()
	testkit.Eventually(t, 10*time.Second, "the target has the request", func() bool { return calls.Load() > 0 })
	cancel()
	select {
	case o := <-done:
		if o.Verdict != verdict.Retry || !strings.Contains(o.Reason, "context canceled") {
			t.Fatalf("outcome %+v; want retry, cancelled", o)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled delivery did not end")
	}
	if o := ht.Deliver(context.Background(), testEvent("e-2")); o.Verdict != verdict.Ack {
		t.Fatalf("delivery after the cancel: %+v; want ack", o)
	}
}

// A delivery past its timeout is retried, naming the timeout.
func TestAPlainHTTPDeliveryTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	ht := plainTarget(t, srv.URL, func(r *router.Route) { r.Target.HTTP.Timeout = spec.Duration(200 * time.Millisecond) })
	if o := ht.Deliver(context.Background(), testEvent("e-1")); o.Verdict != verdict.Retry || !strings.Contains(o.Reason, "deadline exceeded") {
		t.Fatalf("outcome %+v; want retry, timed out", o)
	}
}

// A long answer, of which the bus reads only the start, does not spoil the
// connection for the next delivery.
func TestALongAnswerLeavesTheNextDeliveryWhole(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, strings.Repeat("x", 1<<20))
			return
		}
		w.Header().Set(VerdictHeader, "drop")
	}))
	t.Cleanup(srv.Close)
	ht := plainTarget(t, srv.URL, nil)
	if o := ht.Deliver(context.Background(), testEvent("e-1")); o.Verdict != verdict.Retry || o.Status != 500 {
		t.Fatalf("first outcome %+v; want retry, 500", o)
	}
	if o := ht.Deliver(context.Background(), testEvent("e-2")); o.Verdict != verdict.Drop {
		t.Fatalf("second outcome %+v; want drop, as the target said", o)
	}
}

// Deliveries one after another reuse one connection, whether the target
// answers with no body (the most common answer, which the bus does not
// read) or with one it drains.
func TestDeliveriesKeepTheirConnectionWhateverTheAnswersBody(t *testing.T) {
	for name, body := range map[string]string{"empty": "", "short": "ok", "chunked": "-"} {
		t.Run(name, func(t *testing.T) {
			n := connectionsForFive(t, func(w http.ResponseWriter, r *http.Request) {
				switch body {
				case "":
					w.Header().Set("Content-Length", "0")
				case "-":
					_, _ = io.WriteString(w, "ok")
					w.(http.Flusher).Flush() // no Content-Length: chunked
				default:
					_, _ = io.WriteString(w, body)
				}
			}, nil)
			if n != 1 {
				t.Fatalf("%d connections for 5 deliveries one after another; want 1", n)
			}
		})
	}
}

// connectionsForFive delivers five events one after another, each of them
// to be acked, to a target that h serves, and returns how many connections
// the target saw opened; idle, if not nil, is given each connection as it
// goes idle.
func connectionsForFive(t *testing.T, h http.HandlerFunc, idle func(net.Conn)) int32 {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch {
		case s == http.StateNew:
			conns.Add(1)
		case s == http.StateIdle && idle != nil:
			idle(c)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	ht := plainTarget(t, srv.URL, nil)
	for i := range 5 {
		if o := ht.Deliver(context.Background(), testEvent(strconv.Itoa(i))); o.Verdict != verdict.Ack {
			t.Fatalf("delivery %d: %+v; want ack", i, o)
		}
	}
	return conns.Load()
}

// A target behind a proxy is reached through it.
func TestAPlainHTTPTargetBehindAProxyIsReachedThroughIt(t *testing.T) {
	var proxied atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Store(r.URL.String()) // a proxy is asked for the absolute URL
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(proxy.Close)
	proxyURL, _ := url.Parse(proxy.URL)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(proxyURL)
	r := router.Route{Name: "proxied", Bus: router.DefaultBus, Target: router.Target{HTTP: &router.HTTPTarget{
		URL: "http://target.invalid/hooks",
	}}}.WithDefaults()
	ht, err := newHTTPTarget(&http.Client{Transport: tr}, &r, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if o := ht.Deliver(context.Background(), testEvent("e-1")); o.Verdict != verdict.Ack {
		t.Fatalf("outcome %+v; want ack", o)
	}
	if got := proxied.Load(); got != "http://target.invalid/hooks" {
		t.Fatalf("the proxy was asked for %v; want the target's URL", got)
	}
}

// A kept-alive connection the target closed while it was idle is not a
// failed delivery: the request goes again on a new connection.
func TestAConnectionTheTargetClosedWhileIdleIsNotAFailure(t *testing.T) {
	n := connectionsForFive(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}, func(c net.Conn) {
		_ = c.Close() // without a word: the client learns when it writes or reads
	})
	if n < 2 {
		t.Fatalf("%d connections for 5 deliveries; the target closed each after one", n)
	}
}

// Credentials in a target's URL are sent as basic auth, as net/http's
// client sends them, and an error names the URL without them.
func TestCredentialsInATargetURLAreBasicAuth(t *testing.T) {
	var user, password atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		user.Store(u)
		password.Store(p)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	withCredentials := strings.Replace(srv.URL, "http://", "http://hooks:s3cret@", 1)
	if o := plainTarget(t, withCredentials, nil).Deliver(context.Background(), testEvent("e-1")); o.Verdict != verdict.Retry {
		t.Fatalf("outcome %+v; want retry (the target answered 500)", o)
	}
	if user.Load() != "hooks" || password.Load() != "s3cret" {
		t.Fatalf("the target got basic auth %v:%v; want hooks:s3cret", user.Load(), password.Load())
	}
	srv.Close()
	o := plainTarget(t, withCredentials, nil).Deliver(context.Background(), testEvent("e-2"))
	if o.Verdict != verdict.Retry || strings.Contains(o.Reason, "s3cret") {
		t.Fatalf("outcome %+v; want retry, its reason without the password", o)
	}
}

// An event without datacontenttype is sent without Content-Type, as the
// binary mode says, so its receiver reads it without one too.
func TestAnEventWithoutDataContentTypeIsSentWithoutContentType(t *testing.T) {
	got := make(chan []string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Values("Content-Type")
	}))
	t.Cleanup(srv.Close)
	e := testEvent("e-1")
	e.SetDataContentType("")
	e.DataEncoded = []byte("raw bytes")
	if o := plainTarget(t, srv.URL, nil).Deliver(context.Background(), e); o.Verdict != verdict.Ack {
		t.Fatalf("outcome %+v; want ack", o)
	}
	if ct := <-got; len(ct) != 0 {
		t.Fatalf("the target got Content-Type %q; want none", ct)
	}
}

// A target reached over IPv6 is delivered to, as over IPv4.
func TestAPlainHTTPTargetOverIPv6IsReached(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("this machine has no IPv6 loopback: %v", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	if o := plainTarget(t, srv.URL, nil).Deliver(context.Background(), testEvent("e-1")); o.Verdict != verdict.Ack {
		t.Fatalf("outcome %+v; want ack from %s", o, srv.URL)
	}
}

// An answer with more headers than the plain client reads fails that
// attempt without repeating them, and the target's later deliveries go on
// net/http's client, which reads them.
func TestAnAnswerWithLongHeadersMovesTheTargetToNetHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session="+strings.Repeat("s", answerHeaderBytes))
	}))
	t.Cleanup(srv.Close)
	ht := plainTarget(t, srv.URL, nil)
	o := ht.Deliver(context.Background(), testEvent("e-1"))
	if o.Verdict != verdict.Retry || strings.Contains(o.Reason, "session=") {
		t.Fatalf("first outcome %+v; want retry, without the headers in the reason", o)
	}
	if o := ht.Deliver(context.Background(), testEvent("e-1")); o.Verdict != verdict.Ack {
		t.Fatalf("second outcome %+v; want ack on net/http's client", o)
	}
}
