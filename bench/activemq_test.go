package main

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"testing"
	"time"
)

// TestActiveMQScenarioRuns runs the activemq scenario for one short round:
// every contender must start, carry events end to end without an error and
// stop. It says nothing of speed. It needs the ActiveMQ broker of
// EVENTBUS_TEST_ACTIVEMQ (default activemq://127.0.0.1:61613); if none
// answers it skips, except under CI=true.
func TestActiveMQScenarioRuns(t *testing.T) {
	u, err := url.Parse(activemqBroker())
	if err != nil {
		t.Fatalf("EVENTBUS_TEST_ACTIVEMQ: %v", err)
	}
	host := u.Host
	if conn, err := net.DialTimeout("tcp", host, 2*time.Second); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no ActiveMQ broker at %s: CI must run the activemq bench scenario against one", host)
		}
		t.Skipf("no ActiveMQ broker at %s (run scripts/activemq.sh start, or set EVENTBUS_TEST_ACTIVEMQ)", host)
	} else {
		conn.Close()
	}
	selected, err := selectScenarios([]string{"activemq"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := runScenario(context.Background(), selected[0], runOptions{rounds: 1, duration: 500 * time.Millisecond}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for c, con := range selected[0].Contenders {
		if w := res.windows[c][0]; w.ops == 0 || w.errs > 0 {
			t.Errorf("activemq/%s: %d events carried, %d errors (first: %v); want events and no errors, or the figures mean nothing",
				con.Name, w.ops, w.errs, w.firstErr)
		}
	}
}
