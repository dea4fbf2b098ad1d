package bus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/bus/httpapi"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// A replica being stopped (SIGTERM) first answers 503 on /readyz while it
// still takes events, so a load balancer moves producers elsewhere before
// anything is refused; then it finishes the delivery in progress and stops.
// Nothing accepted meanwhile is lost.
func TestShutdownGoesNotReadyFirstThenDrains(t *testing.T) {
	var mu sync.Mutex
	delivered := map[string]int{}
	arrived := make(chan string, 8)
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("Ce-Id")
		arrived <- id
		<-release // the delivery stays in progress until the test lets it finish
		mu.Lock()
		delivered[id]++
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })

	cfg := bus.Config{
		ShutdownDelay:   spec.Duration(10 * time.Second),
		ShutdownTimeout: spec.Duration(30 * time.Second),
		Routes:          []router.Route{route("drained", hook.URL, "")},
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	srv, err := httpapi.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()

	if code := readyz(t, base); code != http.StatusOK {
		t.Fatalf("GET /readyz = %d before shutdown, want 200", code)
	}
	bustest.Emit(t, base, "in-flight", nil)
	select {
	case id := <-arrived:
		if id != "in-flight" {
			t.Fatalf("the target got %q first, want in-flight", id)
		}
	case <-time.After(bustest.DeliveryTimeout):
		t.Fatal("the first event never reached the target")
	}

	stop() // what SIGTERM does to `eventbus serve`
	testkit.EventuallyNoError(t, 5*time.Second, func() error {
		if code := readyz(t, base); code != http.StatusServiceUnavailable {
			return fmt.Errorf("GET /readyz = %d after SIGTERM, want 503: a load balancer must stop sending before ingress closes", code)
		}
		return nil
	})
	// Not ready, but still taking events: producers that have not yet
	// heard are not refused.
	bustest.Emit(t, base, "during-delay", nil)

	releaseOnce.Do(func() { close(release) })
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v, want nil after a clean drain", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the bus did not stop within 60s of its shutdown")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range []string{"in-flight", "during-delay"} {
		if delivered[id] != 1 {
			t.Errorf("event %s delivered %d times before the bus stopped, want 1: an in-memory route drains what it accepted (got %v)", id, delivered[id], delivered)
		}
	}
}

func readyz(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
