package main

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestZeroMQScenarioRuns runs the zeromq scenario for one short round:
// both contenders must start, fan events out to every subscriber without
// an error and stop. It says nothing of speed.
func TestZeroMQScenarioRuns(t *testing.T) {
	selected, err := selectScenarios([]string{"zeromq"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := runScenario(context.Background(), selected[0], runOptions{rounds: 1, duration: 500 * time.Millisecond}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for c, con := range selected[0].Contenders {
		if w := res.windows[c][0]; w.ops == 0 || w.errs > 0 {
			t.Errorf("zeromq/%s: %d events fanned out, %d errors (first: %v); want events and no errors, or the figures mean nothing",
				con.Name, w.ops, w.errs, w.firstErr)
		}
	}
}
