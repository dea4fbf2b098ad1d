package crash

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/internal/proctest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/internal/testnet"
)

// targetDownEvents is how many events a kill test emits while the target
// is down.
const targetDownEvents = 500

// `eventbus serve` with no flags keeps events on disk: a route made through
// the API to a target that is down takes 500 events (202 each), the bus is
// killed with SIGKILL and started again in the same directory, the target
// comes up, and every event reaches it. The deliveries the killed bus held
// come back after JetStream's 30 s ack wait, which bounds how long the test
// takes.
func TestKillNineOnTheDefaultBackendLosesNoAcceptedEvent(t *testing.T) {
	// No --config, no --backend, no --data-dir: the defaults, in dir.
	killWithTargetDown(t, "durable-default", "the default backend", func(string) []string { return nil })
}

// killWithTargetDown runs `eventbus serve` with flags(dir) in dir, makes a
// route through the API to a target that is down, emits targetDownEvents
// events (202 each), kills the bus with SIGKILL, starts it again with the
// same flags, brings the target up, and checks that every event reaches
// it. It prints "delivered=N duplicated=D lost=L": duplicates are allowed
// (at-least-once), losses are not. keeper names what must keep the events.
func killWithTargetDown(t *testing.T, route, keeper string, flags func(dir string) []string) {
	if testing.Short() {
		t.Skip("the crash test builds and restarts the bus")
	}
	dir := t.TempDir()
	exe := proctest.BuildBus(t, dir)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	targetAddr := testnet.FreeAddr(t) // nothing listens there until the target comes up
	args := append([]string{"--addr", addr}, flags(dir)...)

	bus := startServe(t, exe, dir, base, args...)
	putDefaultRoute(t, base, route, "http://"+targetAddr)
	client := &http.Client{Timeout: 10 * time.Second}
	ids := make([]string, targetDownEvents)
	for i := range ids {
		ids[i] = route + "-" + strconv.Itoa(i)
		if !post(t.Context(), client, base, ids[i]) {
			t.Fatalf("event %s was not accepted (202): the bus must take events while the target is down", ids[i])
		}
	}
	bus.kill(t)
	t.Logf("SIGKILL after %d events accepted with the target down", targetDownEvents)

	bus = startServe(t, exe, dir, base, args...)
	defer bus.terminate(t)
	target := listenTarget(t, targetAddr)

	var delivered, duplicated int
	var missing []string
	testkit.Poll(settleWait, 200*time.Millisecond, func() bool {
		delivered, duplicated, missing = target.tally(ids, nil)
		return len(missing) == 0
	})
	fmt.Printf("delivered=%d duplicated=%d lost=%d\n", delivered, duplicated, len(missing))
	if len(missing) > 0 {
		t.Errorf("%d of %d events got 202 and never reached the target within %v after the restart (first: %v): %s must keep accepted events across kill -9; the bus's log:%s",
			len(missing), targetDownEvents, settleWait, missing[:min(5, len(missing))], keeper, bus.logTail())
	}
	deleteRoute(t, base, route)
}

// putDefaultRoute creates a route on the bus's default backend (it names
// none) that retries a target that is down for as long as the test runs.
func putDefaultRoute(t *testing.T, base, route, target string) {
	t.Helper()
	proctest.PutRoute(t, base, route, map[string]any{
		"target": map[string]any{"http": map[string]any{"url": target, "timeout": "5s"}},
		"delivery": map[string]any{
			"max_attempts": 1000,
			"backoff":      map[string]any{"initial": "50ms", "max": "500ms"},
			"max_inflight": 64,
		},
	})
}

// listenTarget starts, on addr, a target that takes every call and counts
// the deliveries of each event id.
func listenTarget(t *testing.T, addr string) *target {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the target cannot listen on %s again: %v", addr, err)
	}
	tg := &target{got: map[string]int{}, url: "http://" + addr}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		tg.calls.Add(1)
		tg.mu.Lock()
		tg.got[r.Header.Get("Ce-Id")]++
		tg.mu.Unlock()
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return tg
}
