// Package proctest is what the whole-system tests (test/...) share to run
// the eventbus binary as a real process: BuildBus builds it once per test,
// IDs records the events a producer got 202 for.
package proctest

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// BuildBus builds ./cmd/eventbus of this module into dir and returns the
// binary's path.
func BuildBus(t *testing.T, dir string) string {
	t.Helper()
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	exe := filepath.Join(dir, "eventbus")
	cmd := exec.Command("go", "build", "-o", exe, "./cmd/eventbus")
	cmd.Dir = strings.TrimSpace(string(root))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/eventbus: %v\n%s", err, out)
	}
	return exe
}

// IDs are the ids of the events the bus answered 202 for, safe for
// concurrent producers.
type IDs struct {
	mu  sync.Mutex
	ids []string
}

// Add records id.
func (a *IDs) Add(id string) {
	a.mu.Lock()
	a.ids = append(a.ids, id)
	a.mu.Unlock()
}

// Count says how many ids were recorded.
func (a *IDs) Count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ids)
}

// All returns the ids recorded, in order.
func (a *IDs) All() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.ids)
}
