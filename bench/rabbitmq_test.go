package main

import (
	"context"
	"io"
	"os"
	"testing"
	"time"
)

// TestRabbitScenariosRun runs both rabbitmq scenarios for one short round:
// every contender must start, carry events end to end without an error and
// stop, deleting its queues. It says nothing of speed. It needs
// EVENTBUS_TEST_RABBIT; unset, it skips, except under CI=true.
func TestRabbitScenariosRun(t *testing.T) {
	if os.Getenv("EVENTBUS_TEST_RABBIT") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("EVENTBUS_TEST_RABBIT is not set: CI must run the rabbitmq bench scenarios against a real RabbitMQ")
		}
		t.Skip("EVENTBUS_TEST_RABBIT is not set (e.g. amqp://guest:guest@127.0.0.1:5672/)")
	}
	selected, err := selectScenarios([]string{"rabbitmq", "rabbitmq-latency"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range selected {
		res, err := runScenario(context.Background(), s, runOptions{rounds: 1, duration: 500 * time.Millisecond}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		for c, con := range s.Contenders {
			if w := res.windows[c][0]; w.ops == 0 || w.errs > 0 {
				t.Errorf("%s/%s: %d events carried, %d errors (first: %v); want events and no errors, or the figures mean nothing",
					s.Name, con.Name, w.ops, w.errs, w.firstErr)
			}
		}
	}
}
