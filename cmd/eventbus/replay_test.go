package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/sdk"
)

// eventbus serve archives what it accepts by default; replay start puts
// the archive into a route created afterwards, and status follows it.
func TestReplayCommandsOnServesDefaultArchive(t *testing.T) {
	marks := make(chan string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		marks <- r.Header.Get("Ce-Id") + " " + r.Header.Get("Ce-Replay")
	}))
	defer hook.Close()
	_, url := serveProcess(t)
	for _, id := range []string{"r-1", "r-2", "r-3"} {
		if code, _, errOut := runCLI(t, "emit", "--url", url, "--type", "t", "--source", "s", "--id", id); code != 0 {
			t.Fatalf("emit %s: %s", id, errOut)
		}
	}
	file := filepath.Join(t.TempDir(), "route.yaml")
	if err := os.WriteFile(file, []byte("name: late\ntarget: {http: {url: '"+hook.URL+"'}}\ndelivery: {max_inflight: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "routes", "apply", "-f", file, "--url", url); code != 0 {
		t.Fatalf("routes apply: %s", errOut)
	}

	code, out, errOut := runCLI(t, "replay", "start", "late", "--from", "earliest", "--url", url)
	var rp sdk.Replay
	if err := json.Unmarshal([]byte(out), &rp); code != 0 || err != nil || rp.ID == "" {
		t.Fatalf("replay start: exit %d %s %s", code, out, errOut)
	}
	for _, id := range []string{"r-1", "r-2", "r-3"} {
		if got := <-marks; got != id+" "+rp.ID {
			t.Fatalf("delivered %q, want %q: the archived event, marked with the replay", got, id+" "+rp.ID)
		}
	}
	testkit.Eventually(t, 10*time.Second, "replay status to say done", func() bool {
		_, out, _ := runCLI(t, "replay", "status", "late", rp.ID, "--url", url)
		return strings.Contains(out, `"state": "done"`) && strings.Contains(out, `"delivered": 3`)
	})
	if code, out, _ := runCLI(t, "replay", "list", "late", "--url", url); code != 0 || !strings.Contains(out, rp.ID) {
		t.Errorf("replay list: exit %d %s, want the replay", code, out)
	}
	if code, _, errOut := runCLI(t, "replay", "start", "late", "--from", "yesterday-ish", "--url", url); code != 2 || !strings.Contains(errOut, "--from") {
		t.Errorf("a bad --from: exit %d %q, want 2 naming --from", code, errOut)
	}
}
