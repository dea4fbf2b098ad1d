package crash

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"testing"
	"time"
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

// `eventbus serve --backend activemq://...` keeps what it accepted across a
// kill -9 of the bus: what the killed bus held unacked the broker hands out
// again as soon as its connection drops.
func TestKillNineOnActiveMQLosesNoAcceptedEvent(t *testing.T) {
	backend := activemqBackend(t)
	route := fmt.Sprintf("crash-activemq-%d", time.Now().UnixNano())
	killWithTargetDown(t, route, "ActiveMQ", func(dir string) []string {
		return []string{"--backend", backend, "--data-dir", dir + "/data", "--log-level", "warn"}
	})
}
