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

// The ScenarioRuns tests run each scenario for one short round: every
// contender must start, carry events without an error and stop, removing
// what it made on its broker. They say nothing of speed; the figures do.

func TestIngressScenarioRuns(t *testing.T) {
	res := runsOneRound(t, "ingress", time.Second)
	for c, con := range res.scenario.Contenders {
		if res.windows[c][0].cpu <= 0 {
			t.Errorf("%s: measured no CPU time for the server process; the CPU column would be wrong", con.Name)
		}
	}
}

func TestBatchScenarioRuns(t *testing.T) {
	res := runsOneRound(t, "batch", 500*time.Millisecond)
	for c, con := range res.scenario.Contenders {
		if w := res.windows[c][0]; w.ops < batchSize || w.ops%batchSize != 0 {
			t.Errorf("%s: %d events in the window; want whole operations of %d events each", con.Name, w.ops, batchSize)
		}
	}
}

func TestRabbitScenariosRun(t *testing.T) {
	if os.Getenv("EVENTBUS_TEST_RABBIT") == "" {
		missing(t, "EVENTBUS_TEST_RABBIT is not set", "e.g. amqp://guest:guest@127.0.0.1:5672/")
	}
	runsOneRound(t, "rabbitmq", 500*time.Millisecond)
	runsOneRound(t, "rabbitmq-latency", 500*time.Millisecond)
}

func TestNATSScenarioRuns(t *testing.T) {
	needsServer(t, natsServer(), "start nats-server -js, or set EVENTBUS_TEST_NATS")
	runsOneRound(t, "nats", 500*time.Millisecond)
}

func TestActiveMQScenarioRuns(t *testing.T) {
	needsServer(t, activemqBroker(), "run scripts/activemq.sh start, or set EVENTBUS_TEST_ACTIVEMQ")
	runsOneRound(t, "activemq", 500*time.Millisecond)
}

func TestZeroMQScenarioRuns(t *testing.T) {
	runsOneRound(t, "zeromq", 500*time.Millisecond)
}

// runsOneRound runs scenario name for one round of d and fails the test
// unless every contender carried events without an error.
func runsOneRound(t *testing.T, name string, d time.Duration) result {
	t.Helper()
	selected, err := selectScenarios([]string{name})
	if err != nil {
		t.Fatal(err)
	}
	res, err := runScenario(context.Background(), selected[0], runOptions{rounds: 1, duration: d}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for c, con := range selected[0].Contenders {
		if w := res.windows[c][0]; w.ops == 0 || w.errs > 0 {
			t.Errorf("%s/%s: %d events carried, %d errors (first: %v); want events and no errors, or the figures mean nothing",
				name, con.Name, w.ops, w.errs, w.firstErr)
		}
	}
	return res
}

// needsServer checks that something listens at the (first) host of the
// server URL rawURL.
func needsServer(t *testing.T, rawURL, start string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("%s: %v", rawURL, err)
	}
	host, _, _ := strings.Cut(u.Host, ",")
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		missing(t, "no server at "+host, start)
	}
	conn.Close()
}

// missing skips a test whose server is missing, except under CI=true,
// where it fails: CI runs every scenario against the real thing.
func missing(t *testing.T, why, start string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: CI must run this bench scenario against one (%s)", why, start)
	}
	t.Skipf("%s (%s)", why, start)
}

func TestMemoryScenariosRun(t *testing.T) {
	runsOneRound(t, "memory", 500*time.Millisecond)
	res := runsOneRound(t, "memory-latency", 500*time.Millisecond)
	for c, con := range res.scenario.Contenders {
		if w := res.windows[c][0]; w.ingressP50 <= 0 || w.ingressP50 > w.p50 {
			t.Errorf("%s: ingress p50 %s, end-to-end p50 %s; want an ingress latency, at most end to end", con.Name, w.ingressP50, w.p50)
		}
	}
}
