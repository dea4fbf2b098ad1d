package plugins

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/spec"
	"github.com/eventbus-go/eventbus/verdict"
)

func readPID(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading the plugin's pid file: %v", err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatalf("pid file holds %q: %v", b, err)
	}
	return pid
}

func TestProcessDeliversAndReplies(t *testing.T) {
	h, err := NewHost(t.Context(), []Config{{Name: "echo", Cmd: testPluginPath(t), Instances: 2}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, h)
	if d, _ := h.Describe("echo"); d.Name != "testplugin" || d.Version != "0.0.1" || len(d.EventTypes) != 4 {
		t.Errorf("Describe = %+v, want what the plugin declared", d)
	}
	cause := newEvent("e1", "test.echo", nil)
	cause.SetExtension(ExtCorrelationID, "c0")
	res, err := h.Deliver(t.Context(), "echo", cause)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != verdict.Ack || len(res.Replies) != 1 {
		t.Fatalf("result = %+v, want an ack with one reply", res)
	}
	ext := res.Replies[0].Extensions()
	if ext[ExtCausationID] != "e1" || ext[ExtCorrelationID] != "c0" {
		t.Errorf("reply extensions = %v, want causationid e1 (the handled event) and correlationid c0 (carried along)", ext)
	}
	if st, _ := h.Stats("echo"); st.Ready != 2 || st.Restarts != 0 {
		t.Errorf("stats = %+v, want 2 ready instances and no restart", st)
	}
}

// A plugin process killed with SIGKILL while 1,000 events are in flight
// to it: every delivery either completes or returns an error, and the
// caller's redelivery then completes it. None is lost.
func TestProcessKilledWithEventsInFlightLosesNone(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The events are held until release exists, which it does only after
	// the kill: all 1,000 are in flight when the process dies, however
	// slowly a loaded machine sends them, and the restarted process acks
	// their redeliveries at once. The timeout is far above how long
	// sending them may take, so no hold is mistaken for a hang.
	release := filepath.Join(t.TempDir(), "release")
	cfg := Config{Name: "sleepy", Cmd: testPluginPath(t), Env: map[string]string{"TESTPLUGIN_PIDFILE": pidFile}, Timeout: spec.Duration(time.Minute)}
	h, err := NewHost(t.Context(), []Config{cfg}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, h)
	firstPID := readPID(t, pidFile)

	const events = 1000
	var completed, redelivered atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for i := range events {
		wg.Go(func() {
			e := newEvent("ev-"+strconv.Itoa(i), "test.hold", release)
			for ctx.Err() == nil {
				res, err := h.Deliver(ctx, "sleepy", e)
				if err == nil && res.Verdict == verdict.Ack {
					completed.Add(1)
					return
				}
				redelivered.Add(1)
				time.Sleep(20 * time.Millisecond) // the caller's backoff, as the bus's
			}
		})
	}
	testkit.Eventually(t, 30*time.Second, "1,000 deliveries in flight", func() bool {
		st, _ := h.Stats("sleepy")
		return st.InFlight == events
	})
	if err := syscall.Kill(firstPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	st, _ := h.Stats("sleepy")
	t.Logf("SIGKILL with %d events in flight: %d completed, %d redelivered after an error, %d restarts", events, completed.Load(), redelivered.Load(), st.Restarts)
	if completed.Load() != events {
		t.Fatalf("%d of %d events completed: a crash must lose none", completed.Load(), events)
	}
	if redelivered.Load() == 0 {
		t.Errorf("no delivery returned an error although the process died under them")
	}
	if st.Restarts != 1 || st.Ready != 1 {
		t.Errorf("stats = %+v, want one restart and the instance back", st)
	}
	if pid := readPID(t, pidFile); pid == firstPID {
		t.Errorf("the plugin still runs as pid %d: it was not restarted", pid)
	}
}

// A plugin that stops answering (SIGSTOP: alive, but silent) is found by
// the delivery's timeout and replaced.
func TestProcessHungIsRestartedWithinTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	h, err := NewHost(t.Context(), []Config{{Name: "hangs", Cmd: testPluginPath(t), Timeout: spec.Duration(timeout)}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, h)
	start := time.Now()
	_, err = h.Deliver(t.Context(), "hangs", newEvent("h1", "test.hang", nil))
	if err == nil || !strings.Contains(err.Error(), "hung") {
		t.Fatalf("Deliver to a hung plugin = %v after %s, want an error saying it hung", err, time.Since(start))
	}
	detected := time.Since(start)
	// Found at the timeout; a loaded machine may add scheduling delay, but
	// a whole timeout late means the hang is not watched per delivery.
	if detected > 2*timeout {
		t.Errorf("hang detected after %s, want at the %s timeout", detected, timeout)
	}
	testkit.Eventually(t, 5*time.Second, "the hung instance replaced", func() bool {
		st, _ := h.Stats("hangs")
		return st.Restarts == 1 && st.Ready == 1
	})
	t.Logf("hang detected after %s, instance replaced after %s", detected, time.Since(start))
	if res, err := h.Deliver(t.Context(), "hangs", newEvent("h2", "test.echo", nil)); err != nil || res.Verdict != verdict.Ack {
		t.Fatalf("after the restart: %+v, %v; want an ack", res, err)
	}
}

func TestProcessHandshakeMismatchNamesBothVersions(t *testing.T) {
	cfg := Config{Name: "old", Cmd: testPluginPath(t), Env: map[string]string{"TESTPLUGIN_PROTOCOL": "2"}}
	_, err := NewHost(t.Context(), []Config{cfg}, testLogger(t))
	if err == nil {
		t.Fatal("NewHost started a plugin speaking protocol 2; want a handshake error")
	}
	msg := err.Error()
	for _, want := range []string{`plugin "old"`, "handshake failed", "protocol version 1", "Plugin version: 2"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}

func TestProcessBadCommandFailsNewHost(t *testing.T) {
	_, err := NewHost(t.Context(), []Config{{Name: "nope", Cmd: filepath.Join(t.TempDir(), "missing")}}, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), `plugin "nope"`) {
		t.Fatalf("NewHost with a missing executable = %v, want an error naming the plugin", err)
	}
}
