package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

var testPlugin struct {
	once sync.Once
	path string
	err  error
}

// testPluginPath builds internal/testplugin once per test run.
func testPluginPath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a plugin process; skipped with -short")
	}
	testPlugin.once.Do(func() {
		dir, err := os.MkdirTemp("", "eventbus-testplugin")
		if err != nil {
			testPlugin.err = err
			return
		}
		testPlugin.path = filepath.Join(dir, "testplugin")
		out, err := exec.Command("go", "build", "-o", testPlugin.path, "./internal/testplugin").CombinedOutput()
		if err != nil {
			testPlugin.err = fmt.Errorf("go build ./internal/testplugin: %v\n%s", err, out)
		}
	})
	if testPlugin.err != nil {
		t.Fatal(testPlugin.err)
	}
	return testPlugin.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testPlugin.path != "" {
		_ = os.RemoveAll(filepath.Dir(testPlugin.path))
	}
	os.Exit(code)
}

// testLogger writes to the test's log, so a failure shows what the host
// and the plugin said.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func newEvent(id, typ string, data any) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("test")
	e.SetType(typ)
	if data != nil {
		if err := e.SetData(event.ApplicationJSON, data); err != nil {
			panic(err)
		}
	}
	return &e
}

func shutdown(t testing.TB, h *Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
