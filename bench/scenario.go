package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A Scenario compares eventbus with its peers on one kind of work.
type Scenario struct {
	Name string
	// About says in a line what one operation is and under what load.
	About string
	// Workers is how many operations are in flight at once: each worker
	// does one at a time.
	Workers int
	// Rate, when set, is an open loop at this many operations per second,
	// for latency at a fixed load: operation i is due at i/Rate seconds
	// into the window, the next free worker starts it then (or as soon as
	// one is free, if all are busy), and its latency counts from when it
	// was due, so that a stall delays, and is charged to, every operation
	// due during it rather than hiding them (coordinated omission). Zero
	// means each worker starts its next operation as soon as the last one
	// is done (throughput).
	Rate int
	// Contenders do the work: eventbus first, then its peers. Ratios
	// compare the first with each of the others.
	Contenders []Contender
	// Compare adds ratios of contender a over contender b ({a, b},
	// indices into Contenders), for variants of eventbus measured in the
	// same rounds, such as with authentication over without.
	Compare [][2]int
}

// A Contender is one program that does a scenario's work.
type Contender struct {
	Name string
	// Start launches the contender for one measured window.
	Start func(ctx context.Context, opts StartOptions) (*Instance, error)
}

// StartOptions are the harness's settings that a contender honours.
type StartOptions struct {
	// CPUProfile, if set, is the file the contender's process writes a CPU
	// profile of its whole life to.
	CPUProfile string
}

// An Instance is a running contender.
type Instance struct {
	// PID is the process whose CPU time is charged to the contender.
	PID int
	// Op does one operation (sends one event) and returns once it is
	// complete. Every worker calls it, concurrently.
	Op func(ctx context.Context) error
	// EventsPerOp is how many events one operation carries, for the
	// events/s and CPU per event columns; zero means one.
	EventsPerOp int
	// Staged, if set, is used instead of Op: it also returns when the
	// contender accepted the event (its 202), before the operation
	// completed, so that tables show ingress latency beside end to end.
	Staged func(ctx context.Context) (accepted time.Time, err error)
	// Stop ends everything Start began. It is called once.
	Stop func() error
}

// scenarios lists every scenario in the order they run; each file that
// defines one adds it from an init function.
var scenarios []Scenario

func register(s Scenario) {
	if len(s.Contenders) < 2 {
		panic("scenario " + s.Name + " needs eventbus and at least one peer")
	}
	scenarios = append(scenarios, s)
}

func scenarioNames() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.Name
	}
	return names
}

// selectScenarios returns the named scenarios in registry order, or all of
// them when names is empty.
func selectScenarios(names []string) ([]Scenario, error) {
	if len(names) == 0 {
		return scenarios, nil
	}
	for _, n := range names {
		if !slices.Contains(scenarioNames(), n) {
			return nil, fmt.Errorf("no scenario %q (known: %s)", n, strings.Join(scenarioNames(), ", "))
		}
	}
	var out []Scenario
	for _, s := range scenarios {
		if slices.Contains(names, s.Name) {
			out = append(out, s)
		}
	}
	return out, nil
}
