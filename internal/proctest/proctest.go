// Package proctest is what the whole-system tests (test/...) share to run
// the eventbus binary as a real process: BuildBus builds it, PutRoute
// creates a route through its admin API, LogTail quotes its log in a
// failure, and IDs records the events a producer got 202 for.
package proctest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
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

// PutRoute creates or replaces route on the bus at base with the admin
// API's JSON document doc, and fails the test unless the bus answers 2xx.
func PutRoute(t *testing.T, base, route string, doc map[string]any) {
	t.Helper()
	body, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, base+"/v1/routes/"+route, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("creating route %s: %s %s", route, resp.Status, b)
	}
}

// LogTail returns the last 4 KiB of the log file at path, for a failure
// message.
func LogTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return " (no log: " + err.Error() + ")"
	}
	return "\n" + string(b[max(0, len(b)-4096):])
}
