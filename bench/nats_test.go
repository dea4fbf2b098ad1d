package main

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// TestNATSScenarioRuns runs the nats scenario for one short round: every
// contender must start, carry events end to end without an error and stop,
// deleting its streams. It says nothing of speed. It needs the NATS server
// of EVENTBUS_TEST_NATS (default nats://127.0.0.1:4222); if none answers
// it skips, except under CI=true.
func TestNATSScenarioRuns(t *testing.T) {
	u, err := url.Parse(natsServer())
	if err != nil {
		t.Fatalf("EVENTBUS_TEST_NATS: %v", err)
	}
	host, _, _ := strings.Cut(u.Host, ",")
	if conn, err := net.DialTimeout("tcp", host, 2*time.Second); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no NATS server at %s: CI must run the nats bench scenario against one", host)
		}
		t.Skipf("no NATS server at %s (start nats-server -js, or set EVENTBUS_TEST_NATS)", host)
	} else {
		conn.Close()
	}
	selected, err := selectScenarios([]string{"nats"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := runScenario(context.Background(), selected[0], runOptions{rounds: 1, duration: 500 * time.Millisecond}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for c, con := range selected[0].Contenders {
		if w := res.windows[c][0]; w.ops == 0 || w.errs > 0 {
			t.Errorf("nats/%s: %d events carried, %d errors (first: %v); want events and no errors, or the figures mean nothing",
				con.Name, w.ops, w.errs, w.firstErr)
		}
	}
}
