package bus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/router"
)

// These tests run routes on a real RabbitMQ, named by EVENTBUS_TEST_RABBIT
// (amqp:// or rabbit://). Unset, they skip, except under CI=true. The broker
// restart test also needs EVENTBUS_TEST_RABBIT_CTL=1: it stops and starts
// the local broker with rabbitmqctl, which disturbs every other test using
// it, so run it on its own (scripts/test.sh does).

// rabbitBackend returns the backend URL of the test broker.
func rabbitBackend(t *testing.T) string {
	t.Helper()
	raw := os.Getenv("EVENTBUS_TEST_RABBIT")
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("EVENTBUS_TEST_RABBIT is not set: CI must test against a real RabbitMQ (e.g. amqp://guest:guest@127.0.0.1:5672/)")
		}
		t.Skip("EVENTBUS_TEST_RABBIT is not set (e.g. amqp://guest:guest@127.0.0.1:5672/)")
	}
	if rest, ok := strings.CutPrefix(raw, "amqp://"); ok {
		raw = "rabbit://" + rest
	}
	return raw
}

// flakyTarget is an HTTP target that answers 503 while down and records the
// ids it took while up.
type flakyTarget struct {
	url  string
	down atomic.Bool

	mu  sync.Mutex
	got map[string]int
}

func newFlakyTarget(t *testing.T) *flakyTarget {
	ft := &flakyTarget{got: map[string]int{}}
	ft.down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if ft.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		ft.mu.Lock()
		ft.got[r.Header.Get("Ce-Id")]++
		ft.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	ft.url = srv.URL
	return ft
}

// missing lists the ids not delivered yet.
func (ft *flakyTarget) missing(ids []string) []string {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	var out []string
	for _, id := range ids {
		if ft.got[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// runningBus is a bus serving on a loopback port until stop.
type runningBus struct {
	base string
	bus  *bus.Bus
	stop func() // shuts down gracefully and waits; safe to call twice
}

func runRabbitBus(t *testing.T, cfg bus.Config) *runningBus {
	t.Helper()
	cfg.ShutdownTimeout = router.Duration(10 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	b, err := bus.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatalf("bus.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("bus.Run returned %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &runningBus{base: "http://" + ln.Addr().String(), bus: b, stop: stop}
}

// rabbitRoute is a route on the test broker with a unique name, retrying
// every 50-200 ms and never giving up within a test.
func rabbitRoute(t *testing.T, prefix, backend, target string) router.Route {
	return router.Route{
		Name:    fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()),
		Backend: backend,
		Target:  router.Target{HTTP: &router.HTTPTarget{URL: target}},
		Delivery: router.Delivery{
			MaxAttempts: 10_000,
			Backoff:     router.Backoff{Initial: router.Duration(50 * time.Millisecond), Max: router.Duration(200 * time.Millisecond)},
		},
	}
}

// deleteRouteAtEnd deletes the route's channels on the broker when the test
// ends, through a bus of its own (the test's may be stopped by then).
func deleteRouteAtEnd(t *testing.T, r router.Route) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		paused := r
		paused.Paused = true
		b, err := bus.New(ctx, bus.Config{}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Errorf("cleanup: starting a bus to delete the route: %v", err)
			return
		}
		if _, _, err := b.PutRoute(ctx, paused, store.AnyVersion); err != nil {
			t.Errorf("cleanup: opening the route to delete it: %v", err)
		} else if err := b.DeleteRoute(ctx, r.Name, store.AnyVersion); err != nil {
			t.Errorf("cleanup: deleting route %s: %v", r.Name, err)
		}
		_ = b.Shutdown(ctx)
	})
}

// emitAll posts one binary-mode event per id and fails unless each gets 202.
func emitAll(t *testing.T, base string, ids []string) {
	t.Helper()
	for _, id := range ids {
		if status, body := emitOnce(base, id); status != http.StatusAccepted {
			t.Fatalf("emit %s: status %d %s; want 202", id, status, body)
		}
	}
}

func emitOnce(base, id string) (int, string) {
	req, err := http.NewRequest(http.MethodPost, base+"/events", strings.NewReader(`{"n":"`+id+`"}`))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", id)
	req.Header.Set("Ce-Source", "/tests/rabbitmq")
	req.Header.Set("Ce-Type", "test.rabbitmq")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func eventIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return ids
}

// eventually polls cond every 20 ms until it returns "" or timeout passes,
// and then fails with what cond last said.
func eventually(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, why)
		}
		<-tick.C
	}
}

// deliveredAll waits until the target took every id.
func deliveredAll(t *testing.T, ft *flakyTarget, ids []string, why string) {
	t.Helper()
	eventually(t, 60*time.Second, func() string {
		if m := ft.missing(ids); len(m) > 0 {
			return fmt.Sprintf("%d of %d accepted events never delivered (first %s): %s", len(m), len(ids), m[0], why)
		}
		return ""
	})
}

// Events accepted while a route's target is down are the broker's, not the
// process's: a new bus on the same config delivers them once the target is
// up, including the retries that were waiting in delay queues.
func TestRabbitRouteSurvivesBusRestart(t *testing.T) {
	backend := rabbitBackend(t)
	target := newFlakyTarget(t)
	r := rabbitRoute(t, "rabbit-bus-restart", backend, target.url)
	deleteRouteAtEnd(t, r)
	cfg := bus.Config{Routes: []router.Route{r}}

	first := runRabbitBus(t, cfg)
	ids := eventIDs("restart", 50)
	emitAll(t, first.base, ids)
	eventually(t, 30*time.Second, func() string {
		s, err := first.bus.Stats(context.Background(), r.Name)
		if err != nil || s.Retried < int64(len(ids)) {
			return fmt.Sprintf("stats %+v, %v: want every event attempted and retried before the restart", s, err)
		}
		return ""
	})
	first.stop()

	target.down.Store(false)
	second := runRabbitBus(t, cfg)
	deliveredAll(t, target, ids, "events a bus accepted must survive its restart")
	second.stop()
}

// Events accepted before RabbitMQ restarts are in its quorum queues after
// it: the bus reconnects by itself and delivers every one, and takes new
// events again once the broker is back.
func TestRabbitRouteSurvivesBrokerRestart(t *testing.T) {
	backend := rabbitBackend(t)
	if os.Getenv("EVENTBUS_TEST_RABBIT_CTL") != "1" {
		t.Skip("set EVENTBUS_TEST_RABBIT_CTL=1 to restart the local broker with rabbitmqctl (it disturbs other tests: run this one alone)")
	}
	target := newFlakyTarget(t)
	r := rabbitRoute(t, "rabbit-broker-restart", backend, target.url)
	deleteRouteAtEnd(t, r)
	b := runRabbitBus(t, bus.Config{Routes: []router.Route{r}})

	before := eventIDs("before", 50)
	emitAll(t, b.base, before)
	restarted := false
	t.Cleanup(func() {
		if !restarted { // never leave the broker down for the next test
			_ = rabbitmqctl("start_app", "await_startup")
		}
	})
	if err := rabbitmqctl("stop_app"); err != nil {
		t.Fatal(err)
	}
	if status, body := emitOnce(b.base, "during"); status != http.StatusServiceUnavailable {
		t.Errorf("emit while the broker is down: status %d %s; want 503, so the producer retries", status, body)
	}
	if err := rabbitmqctl("start_app", "await_startup"); err != nil {
		t.Fatal(err)
	}
	restarted = true

	after := eventIDs("after", 10)
	for _, id := range after {
		eventually(t, 30*time.Second, func() string {
			if status, body := emitOnce(b.base, id); status != http.StatusAccepted {
				return fmt.Sprintf("emit %s after the broker came back: status %d %s; want 202 once the bus reconnected", id, status, body)
			}
			return ""
		})
	}
	target.down.Store(false)
	deliveredAll(t, target, append(before, after...), "events confirmed by RabbitMQ must survive its restart")
}

func rabbitmqctl(commands ...string) error {
	for _, c := range commands {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		out, err := exec.CommandContext(ctx, "rabbitmqctl", c).CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("rabbitmqctl %s: %w: %s", c, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
