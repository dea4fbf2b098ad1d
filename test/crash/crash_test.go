// Package crash proves the delivery contract's last sentence on a real
// process: kill -9 at any moment loses no event that got a 202.
//
// The test builds ./cmd/eventbus and runs it on a config with one RabbitMQ
// route whose HTTP target (in the test) fails every third call. Emitters
// post binary-mode events at a steady rate and record every id answered
// 202. Mid-run the bus is killed with SIGKILL, twice, and started again on
// the same config. At the end every recorded id must have reached the
// target at least once or be in the route's dead-letter channel; the test
// prints "delivered=N duplicated=D lost=L" and fails unless L is 0.
//
// It needs RabbitMQ (EVENTBUS_TEST_RABBIT, amqp:// or rabbit://); unset, it
// skips, except under CI=true. -short skips it too.
//
// A second test runs `serve` with no flags, on its default embedded NATS
// store: 500 events accepted while the route's target is down, SIGKILL,
// a restart in the same directory, and every event delivered once the
// target is up. It needs nothing outside the process.
//
// A third does the same with `serve --backend activemq://...`, on the
// broker of EVENTBUS_TEST_ACTIVEMQ (by default scripts/activemq.sh's).
package crash

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/internal/proctest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/internal/testnet"
)

// The load: events in all, how many emitters post them, and the pace of
// each emitter (one post per tick); the kills happen once these many
// events were accepted.
const (
	totalEvents  = 6000
	emitters     = 8
	emitInterval = 10 * time.Millisecond // 8 emitters: about 800 events/s
	settleWait   = 90 * time.Second      // for the last deliveries after the load
)

var killAt = []int{totalEvents / 3, 2 * totalEvents / 3}

func rabbitBackend(t *testing.T) string {
	t.Helper()
	raw := os.Getenv("EVENTBUS_TEST_RABBIT")
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("EVENTBUS_TEST_RABBIT is not set: CI must run the crash test against a real RabbitMQ (e.g. amqp://guest:guest@127.0.0.1:5672/)")
		}
		t.Skip("EVENTBUS_TEST_RABBIT is not set (e.g. amqp://guest:guest@127.0.0.1:5672/)")
	}
	if rest, ok := strings.CutPrefix(raw, "amqp://"); ok {
		raw = "rabbit://" + rest
	}
	return raw
}

func TestKillNineLosesNoAcceptedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test takes about a minute")
	}
	backend := rabbitBackend(t)
	dir := t.TempDir()
	exe := proctest.BuildBus(t, dir)
	target := newTarget(t)
	routeName := fmt.Sprintf("crash-%d", time.Now().UnixNano())
	// Every bus process of the test listens there, so the emitters need
	// not know which one runs.
	addr := testnet.FreeAddr(t)
	config := filepath.Join(dir, "eventbus.yaml")
	writeConfig(t, config, addr)
	base := "http://" + addr

	bus := startBus(t, exe, config, dir, base)
	// Through the API, so the route is kept in the bus's data dir and comes
	// back with every restart, and can be deleted at the end.
	putRoute(t, base, routeName, backend, target.url)
	defer func() {
		deleteRoute(t, base, routeName)
		bus.terminate(t)
	}()

	var accepted proctest.IDs
	ctx, stopEmitting := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var next atomic.Int64
	for range emitters {
		wg.Go(func() { emit(ctx, base, &next, &accepted) })
	}
	for i, at := range killAt {
		testkit.EventuallyNoError(t, 60*time.Second, func() error {
			if n := accepted.Count(); n < at {
				return fmt.Errorf("%d events accepted, waiting for %d before kill %d", n, at, i+1)
			}
			return nil
		})
		bus.kill(t)
		t.Logf("SIGKILL %d after %d events accepted", i+1, accepted.Count())
		bus = startBus(t, exe, config, dir, base)
	}
	testkit.EventuallyNoError(t, 60*time.Second, func() error {
		if n := accepted.Count(); n < totalEvents {
			return fmt.Errorf("%d of %d events accepted", n, totalEvents)
		}
		return nil
	})
	stopEmitting()
	wg.Wait()

	ids := accepted.All()
	var delivered, duplicated, lost int
	var missing []string
	testkit.Poll(settleWait, 500*time.Millisecond, func() bool {
		dead := deadLetterIDs(t, base, routeName)
		delivered, duplicated, missing = target.tally(ids, dead)
		return len(missing) == 0
	})
	lost = len(missing)
	fmt.Printf("delivered=%d duplicated=%d lost=%d\n", delivered, duplicated, lost)
	t.Logf("accepted %d events, %d dead-lettered, target answered %d calls (every third failed)", len(ids), len(ids)-delivered-lost, target.calls.Load())
	if lost > 0 {
		t.Errorf("%d events got 202 and were neither delivered nor dead-lettered within %v (first: %v); the bus's log:%s",
			lost, settleWait, missing[:min(5, lost)], bus.logTail())
	}
}

func writeConfig(t *testing.T, path, addr string) {
	t.Helper()
	// JSON is YAML: the config is built as data, so no value needs quoting.
	b, err := json.Marshal(map[string]any{"addr": addr, "shutdown_timeout": "5s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// putRoute creates the route under test: retries every 50 ms to 1 s, up to
// 8 attempts, 64 deliveries at once.
func putRoute(t *testing.T, base, route, backend, target string) {
	t.Helper()
	proctest.PutRoute(t, base, route, map[string]any{
		"backend": backend,
		"target":  map[string]any{"http": map[string]any{"url": target, "timeout": "5s"}},
		"delivery": map[string]any{
			"max_attempts": 8,
			"backoff":      map[string]any{"initial": "50ms", "max": "1s"},
			"max_inflight": 64,
		},
	})
}

// busProcess is one run of the eventbus binary.
type busProcess struct {
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{}
}

// startBus starts the bus on config and waits until it answers /readyz.
func startBus(t *testing.T, exe, config, dir, base string) *busProcess {
	t.Helper()
	return startServe(t, exe, dir, base, "--config", config, "--data-dir", filepath.Join(dir, "data"), "--log-level", "warn")
}

// startServe runs `eventbus serve args...` in dir, logging to dir/bus.log,
// and waits until it answers /readyz at base.
func startServe(t *testing.T, exe, dir, base string, args ...string) *busProcess {
	t.Helper()
	log, err := os.OpenFile(filepath.Join(dir, "bus.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &busProcess{cmd: cmd, log: log, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	testkit.EventuallyNoError(t, 30*time.Second, func() error {
		select {
		case <-p.exited:
			t.Fatalf("the bus exited before it was ready:%s", p.logTail())
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return fmt.Errorf("GET /readyz: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /readyz: %s", resp.Status)
		}
		return nil
	})
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *busProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-p.exited
	_ = p.log.Close()
}

// terminate stops the bus as an operator would (SIGTERM), killing it if it
// has not stopped within 15 s.
func (p *busProcess) terminate(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("the bus did not stop within 15s of SIGTERM")
	}
	_ = p.log.Close()
}

func (p *busProcess) logTail() string { return proctest.LogTail(p.log.Name()) }

// emit posts events, one per tick, until ctx ends or totalEvents were
// taken. An event not answered 202 (the bus is down, or was killed while
// storing it) is posted again with the same id, as a producer would.
func emit(ctx context.Context, base string, next *atomic.Int64, accepted *proctest.IDs) {
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(emitInterval)
	defer tick.Stop()
	for {
		n := next.Add(1)
		if n > totalEvents {
			return
		}
		id := "crash-" + strconv.FormatInt(n, 10)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if post(ctx, client, base, id) {
				accepted.Add(id)
				break
			}
		}
	}
}

func post(ctx context.Context, client *http.Client, base, id string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/events", bytes.NewReader([]byte(`{"id":"`+id+`"}`)))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", id)
	req.Header.Set("Ce-Source", "/test/crash")
	req.Header.Set("Ce-Type", "test.crash")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusAccepted
}

// target is the route's HTTP target: every third call fails with 500; the
// others count a delivery of the event's id.
type target struct {
	url   string
	calls atomic.Int64

	mu  sync.Mutex
	got map[string]int
}

func newTarget(t *testing.T) *target {
	tg := &target{got: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if tg.calls.Add(1)%3 == 0 {
			http.Error(w, "every third call fails", http.StatusInternalServerError)
			return
		}
		tg.mu.Lock()
		tg.got[r.Header.Get("Ce-Id")]++
		tg.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	tg.url = srv.URL
	return tg
}

// tally counts, of ids, those delivered and the extra deliveries, and lists
// those neither delivered nor dead-lettered.
func (tg *target) tally(ids []string, dead map[string]bool) (delivered, duplicated int, missing []string) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for _, id := range ids {
		switch n := tg.got[id]; {
		case n > 0:
			delivered++
			duplicated += n - 1
		case !dead[id]:
			missing = append(missing, id)
		}
	}
	return delivered, duplicated, missing
}

// deadLetterIDs lists the ids in the route's dead-letter channel.
func deadLetterIDs(t *testing.T, base, route string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for offset := 0; ; offset += 1000 {
		var page struct {
			Events []struct {
				ID string `json:"id"`
			} `json:"events"`
			Total int `json:"total"`
		}
		resp, err := http.Get(fmt.Sprintf("%s/v1/routes/%s/dlq?limit=1000&offset=%d", base, route, offset))
		if err != nil {
			t.Fatalf("listing dead letters: %v", err)
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("listing dead letters: %s: %v", resp.Status, err)
		}
		for _, e := range page.Events {
			ids[e.ID] = true
		}
		if len(page.Events) == 0 || offset+len(page.Events) >= page.Total {
			return ids
		}
	}
}

func deleteRoute(t *testing.T, base, route string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, base+"/v1/routes/"+route, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("deleting route %s: %v", route, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Errorf("deleting route %s: %s", route, resp.Status)
	}
}
