package crash

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/internal/testkit"
)

// activemqBackend is the broker of EVENTBUS_TEST_ACTIVEMQ, by default the
// one scripts/activemq.sh runs.
func activemqBackend(t *testing.T) string {
	t.Helper()
	raw := os.Getenv("EVENTBUS_TEST_ACTIVEMQ")
	if raw == "" {
		raw = "activemq://127.0.0.1:61613"
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("EVENTBUS_TEST_ACTIVEMQ: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ActiveMQ at %s: %v: CI must run the crash test against a real broker (scripts/activemq.sh start)", u.Host, err)
		}
		t.Skipf("ActiveMQ at %s: %v (run scripts/activemq.sh start, or set EVENTBUS_TEST_ACTIVEMQ)", u.Host, err)
	} else {
		_ = conn.Close()
	}
	return raw
}

// `eventbus serve --backend activemq://...`: a route whose target is down
// takes 500 events (202 each), the bus is killed with SIGKILL and started
// again, the target comes up, and every event reaches it. What the killed
// bus held unacked the broker hands out again as soon as its connection
// drops. The test prints "delivered=N duplicated=D lost=L"; duplicates are
// allowed (at-least-once), losses are not.
func TestKillNineOnActiveMQLosesNoAcceptedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test builds and restarts the bus")
	}
	backend := activemqBackend(t)
	dir := t.TempDir()
	exe := buildBus(t, dir)
	addr := freeAddr(t)
	base := "http://" + addr
	targetAddr := freeAddr(t) // nothing listens there until the target comes up
	route := fmt.Sprintf("crash-activemq-%d", time.Now().UnixNano())
	args := []string{"--addr", addr, "--backend", backend, "--data-dir", dir + "/data", "--log-level", "warn"}

	bus := startServe(t, exe, dir, base, args...)
	putDefaultRoute(t, base, route, "http://"+targetAddr)
	client := &http.Client{Timeout: 10 * time.Second}
	ids := make([]string, defaultEvents)
	for i := range ids {
		ids[i] = route + "-" + strconv.Itoa(i)
		if !post(t.Context(), client, base, ids[i]) {
			t.Fatalf("event %s was not accepted (202): the bus must take events while the target is down", ids[i])
		}
	}
	bus.kill(t)
	t.Logf("SIGKILL after %d events accepted with the target down", defaultEvents)

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
		t.Errorf("%d of %d events got 202 and never reached the target within %v after the restart (first: %v): ActiveMQ must keep accepted events across kill -9 of the bus; the bus's log:%s",
			len(missing), defaultEvents, settleWait, missing[:min(5, len(missing))], bus.logTail())
	}
	deleteRoute(t, base, route)
}
