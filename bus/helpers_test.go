package bus_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/router"
)

// startBus runs a bus on a random port until the test ends and returns its
// base URL: https:// when cfg turns TLS on.
func startBus(t *testing.T, cfg bus.Config) (string, *bus.Bus) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b, err := bus.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("bus.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bus.Run returned %v", err)
		}
	})
	if cfg.TLS.Enabled() {
		return "https://" + ln.Addr().String(), b
	}
	return "http://" + ln.Addr().String(), b
}

// delivery is one request a webhook received.
type delivery struct {
	header http.Header
	body   []byte
}

// webhook is an HTTP target that records deliveries and answers with
// whatever status respond returns (200 when respond is nil).
func webhook(t *testing.T, respond func(n int) int) (string, <-chan delivery) {
	t.Helper()
	got := make(chan delivery, 1000)
	var n int
	var mu = make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu <- struct{}{}
		n++
		status := http.StatusOK
		if respond != nil {
			status = respond(n)
		}
		<-mu
		if status < 300 {
			got <- delivery{header: r.Header.Clone(), body: body}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, got
}

// receive waits for the next delivery, failing the test after a while.
func receive(t *testing.T, got <-chan delivery) delivery {
	t.Helper()
	select {
	case d := <-got:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10s: the event was accepted but never reached the target")
		return delivery{}
	}
}

func route(name, url string, match string) router.Route {
	r := router.Route{Name: name, Target: router.Target{HTTP: &router.HTTPTarget{URL: url}}}
	if match != "" {
		r.Match = []byte(match)
	}
	return r
}

func post(t *testing.T, url, contentType string, headers map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// newHook serves handler as an HTTP target until the test ends.
func newHook(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv.URL
}

// putRoute creates or replaces a route through the bus's API.
func putRoute(t *testing.T, b *bus.Bus, r router.Route) router.Route {
	t.Helper()
	saved, _, err := b.PutRoute(context.Background(), r, store.AnyVersion)
	if err != nil {
		t.Fatalf("PutRoute %s: %v", r.Name, err)
	}
	return saved
}
