package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/internal/testkit"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// test-pattern's exit status is its answer, so scripts can branch on it.
func TestTestPatternExitStatus(t *testing.T) {
	const wholeEvent = `{"specversion":"1.0","id":"1","source":"/s","type":"a","data":{"n":1}}`
	cases := []struct {
		name    string
		args    []string
		code    int
		mention string
	}{
		{"match", []string{"--pattern", `{"type":["a"]}`, "--event", `{"type":"a"}`}, 0, `"matched": true`},
		{"no match", []string{"--pattern", `{"type":["a"]}`, "--event", `{"type":"b"}`}, 1, "type"},
		{"bad pattern", []string{"--pattern", `{"type":"a"}`, "--event", `{"type":"a"}`}, 2, "match.type"},
		{"bad event", []string{"--pattern", `{"type":["a"]}`, "--event", `not json`}, 2, "--event"},
		{"missing event file", []string{"--pattern", `{}`, "--event", "@/nonexistent/event.json"}, 2, "--event"},
		{"transform", []string{"--pattern", `{"type":["a"]}`, "--transform", `.data.n += 1`, "--event", wholeEvent}, 0, `"n": 2`},
		{"transform drops", []string{"--pattern", `{"type":["a"]}`, "--transform", `empty`, "--event", wholeEvent}, 0, `"dropped": true`},
		{"transform fails", []string{"--pattern", `{"type":["a"]}`, "--transform", `error("no n")`, "--event", wholeEvent}, 3, "no n"},
		{"transform not tried without a match", []string{"--pattern", `{"type":["b"]}`, "--transform", `error("no n")`, "--event", wholeEvent}, 1, "type"},
		{"transform does not compile", []string{"--pattern", `{}`, "--transform", `.data |= {`, "--event", wholeEvent}, 2, "--transform: line 1, column"},
		{"transform needs a whole event", []string{"--pattern", `{}`, "--transform", `.`, "--event", `{"type":"a"}`}, 2, "--event: to try a transform, give a whole CloudEvent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"test-pattern"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %s stderr %s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout+stderr, tc.mention) {
				t.Errorf("output %q %q does not mention %q", stdout, stderr, tc.mention)
			}
		})
	}
}

// buildBinary compiles the eventbus command once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "eventbus-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "eventbus")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// serveProcess starts `eventbus serve` as a real process and returns its
// URL once it listens.
func serveProcess(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(args, "--data-dir") {
		args = append(args, "--data-dir", t.TempDir())
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("bus log:\n%s", stderr.String())
		}
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if url, ok := strings.CutPrefix(lines.Text(), "eventbus listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return cmd, strings.Fields(url)[0]
		}
	}
	t.Fatalf("the bus never said where it listens; log:\n%s", stderr.String())
	return nil, ""
}

// Events the bus accepted before SIGTERM reach the target before the
// process exits on the in-memory backend, which keeps nothing across a
// restart. (The default, durable backend keeps them for the next start
// instead: test/crash.)
func TestSIGTERMDeliversAcceptedEventsBeforeExit(t *testing.T) {
	var mu sync.Mutex
	got := map[string]bool{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond) // a slow target, so events queue up
		mu.Lock()
		got[r.Header.Get("Ce-Id")] = true
		mu.Unlock()
	}))
	defer hook.Close()
	config := filepath.Join(t.TempDir(), "eventbus.yaml")
	os.WriteFile(config, []byte(`
routes:
  - name: slow
    target: {http: {url: `+hook.URL+`}}
    delivery: {max_inflight: 2}
`), 0o644)
	cmd, url := serveProcess(t, "--config", config, "--backend", "mem://")

	const n = 200
	for i := range n {
		_, stdout, stderr := runCLI(t, "emit", "--url", url, "--type", "t", "--source", "test", "--id", fmt.Sprint(i))
		if !strings.Contains(stdout, `"slow"`) {
			t.Fatalf("emit %d: %s %s", i, stdout, stderr)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the bus exited with %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the bus did not exit within 30s of SIGTERM")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("%d of %d accepted events were delivered before exit", len(got), n)
	}
}

func TestRoutesCommandsApplyListAndDelete(t *testing.T) {
	_, url := serveProcess(t)
	file := filepath.Join(t.TempDir(), "routes.yaml")
	os.WriteFile(file, []byte(`
routes:
  - name: signup-mail
    match: {type: [user.signed_up]}
    target: {http: {url: "http://127.0.0.1:9/hook"}}
    paused: true
`), 0o644)
	code, out, errOut := runCLI(t, "routes", "apply", "-f", file, "--url", url)
	if code != 0 || !strings.Contains(out, "signup-mail applied") {
		t.Fatalf("apply: %d %s %s", code, out, errOut)
	}
	secret := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`).FindString(out)
	if secret == "" {
		t.Errorf("apply printed %q: want the signing secret the bus generated, the only time it can be seen", out)
	}
	if code, out, _ := runCLI(t, "routes", "list", "--url", url); code != 0 || !strings.Contains(out, `"signup-mail"`) || secret != "" && strings.Contains(out, secret) {
		t.Fatalf("list: %d %s: want the route, without its secret", code, out)
	}
	_, out, _ = runCLI(t, "emit", "--url", url, "--type", "user.signed_up", "--source", "web", "--data", `{"email":"a@example.com"}`)
	if !strings.Contains(out, `"signup-mail"`) {
		t.Errorf("emit did not reach the applied route: %s", out)
	}
	if code, out, errOut := runCLI(t, "routes", "delete", "signup-mail", "--url", url); code != 0 {
		t.Fatalf("delete: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "routes", "get", "signup-mail", "--url", url); code == 0 || !strings.Contains(errOut, "404") {
		t.Errorf("get after delete: exit %d, %s; want a 404 error", code, errOut)
	}
}

// A typo in a route file is an error naming the field, not a silently
// dropped setting.
func TestRoutesApplyRefusesUnknownFields(t *testing.T) {
	file := filepath.Join(t.TempDir(), "routes.yaml")
	os.WriteFile(file, []byte("name: r\ntarget: {http: {url: 'http://x'}}\ndelivry: {max_attempts: 3}\n"), 0o644)
	code, _, errOut := runCLI(t, "routes", "apply", "-f", file, "--url", "http://127.0.0.1:1")
	if code == 0 || !strings.Contains(errOut, "delivry") {
		t.Fatalf("exit %d, %s; want an error naming delivry", code, errOut)
	}
}

func TestServeRefusesABadConfigNamingTheField(t *testing.T) {
	config := filepath.Join(t.TempDir(), "eventbus.yaml")
	os.WriteFile(config, []byte("routes:\n  - name: r\n    target: {http: {url: 'not a url'}}\n"), 0o644)
	code, _, errOut := runCLI(t, "serve", "--config", config, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	if code == 0 || !strings.Contains(errOut, "routes[0].target.http.url") {
		t.Fatalf("exit %d, %s; want an error naming routes[0].target.http.url", code, errOut)
	}
}

// syncBuffer is a bytes.Buffer safe to write from a command's goroutines
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail adds its own route, prints what the bus delivers, and removes the
// route when it stops.
func TestTailPrintsDeliveredEventsAndRemovesItsRoute(t *testing.T) {
	_, url := serveProcess(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"tail", "--url", url, "--pattern", `{"type":["greeting"]}`}, &out, &errOut)
	}()
	routeCount := func() int {
		_, list, _ := runCLI(t, "routes", "list", "--url", url)
		return strings.Count(list, `"tail-`)
	}
	// tail says so once the bus has answered for its route; cancelling
	// before that would cancel the route's creation.
	testkit.Eventually(t, 10*time.Second, "tail's word that its route is in place", func() bool {
		return strings.Contains(errOut.String(), "sends events to it")
	})
	if n := routeCount(); n != 1 {
		t.Fatalf("%d tail routes, want 1", n)
	}

	runCLI(t, "emit", "--url", url, "--type", "greeting", "--source", "test", "--id", "hello-1", "--data", `{"to":"world"}`)
	testkit.Eventually(t, 10*time.Second, "the event in tail's output", func() bool { return strings.Contains(out.String(), `"id":"hello-1"`) })
	if line := out.String(); !strings.Contains(line, `"data":{"to":"world"}`) || !strings.Contains(line, `"type":"greeting"`) {
		t.Errorf("tail printed %s, want the event's type and data", line)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("tail exited %d: %s", code, errOut.String())
	}
	if n := routeCount(); n != 0 {
		t.Errorf("%d tail routes left after tail stopped", n)
	}
}

// tail --stream follows the bus's live tail: no webhook, no route.
func TestTailStreamPrintsTheEventsTheBusStores(t *testing.T) {
	_, url := serveProcess(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"tail", "--stream", "--url", url}, &out, io.Discard) }()
	// Events stored before the stream opened are not shown: emit until one is.
	n := 0
	testkit.Eventually(t, 20*time.Second, "an emitted event in tail --stream's output", func() bool {
		n++
		runCLI(t, "emit", "--url", url, "--type", "greeting", "--source", "test", "--id", fmt.Sprintf("live-%d", n), "--data", `{"to":"world"}`)
		return strings.Contains(out.String(), `"id":"live-`)
	})
	if line := out.String(); !strings.Contains(line, `"data":{"to":"world"}`) || !strings.Contains(line, `"routes":[]`) {
		t.Errorf("tail --stream printed %s; want the event's data and the routes that stored it (none)", line)
	}
	if _, list, _ := runCLI(t, "routes", "list", "--url", url); strings.Contains(list, `"tail-`) {
		t.Errorf("tail --stream added a route: %s", list)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("tail --stream exited %d", code)
	}
}

// Routes and buses made through the API are there after a restart.
func TestAPIRoutesSurviveARestart(t *testing.T) {
	dataDir := t.TempDir()
	cmd, url := serveProcess(t, "--data-dir", dataDir)
	file := filepath.Join(t.TempDir(), "route.yaml")
	os.WriteFile(file, []byte("name: kept\nmatch: {type: [a]}\ntarget: {http: {url: 'http://127.0.0.1:9/'}}\npaused: true\n"), 0o644)
	if code, out, errOut := runCLI(t, "routes", "apply", "-f", file, "--url", url); code != 0 {
		t.Fatalf("apply: %s %s", out, errOut)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("first bus exited with %v", err)
	}
	_, url = serveProcess(t, "--data-dir", dataDir)
	code, out, _ := runCLI(t, "routes", "get", "kept", "--url", url)
	if code != 0 || !strings.Contains(out, `"version": 1`) || !strings.Contains(out, `"paused": true`) {
		t.Fatalf("after the restart: exit %d %s; want the route as saved", code, out)
	}
}

// dlq lists a failing route's dead letters and redrives them once the
// target is fixed.
func TestDLQCommands(t *testing.T) {
	var mu sync.Mutex
	failing := true
	delivered := make(chan string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			http.Error(w, "not today", http.StatusBadRequest) // a 4xx dead-letters at once
			return
		}
		delivered <- r.Header.Get("Ce-Id")
	}))
	defer hook.Close()
	_, url := serveProcess(t)
	file := filepath.Join(t.TempDir(), "route.yaml")
	os.WriteFile(file, []byte("name: picky\ntarget: {http: {url: '"+hook.URL+"'}}\n"), 0o644)
	runCLI(t, "routes", "apply", "-f", file, "--url", url)
	runCLI(t, "emit", "--url", url, "--type", "t", "--source", "s", "--id", "dl-1")
	testkit.Eventually(t, 10*time.Second, "the dead letter", func() bool {
		_, out, _ := runCLI(t, "dlq", "list", "picky", "--url", url)
		return strings.Contains(out, `"dl-1"`) && strings.Contains(out, "not today")
	})
	mu.Lock()
	failing = false
	mu.Unlock()
	// The dead letter "dlq list" just read is there at once for the
	// redrive, as Close of the list's NATS subscription promises.
	if code, out, errOut := runCLI(t, "dlq", "redrive", "picky", "--url", url); code != 0 || !strings.Contains(out, "1 dead letters") {
		t.Fatalf("redrive: %d %s %s", code, out, errOut)
	}
	if id := <-delivered; id != "dl-1" {
		t.Fatalf("delivered %s after redrive, want dl-1", id)
	}
	// The event's history shows the dead letter's attempt, the redrive and
	// the delivery that followed.
	testkit.Eventually(t, 10*time.Second, "events get to show dl-1 delivered after its redrive", func() bool {
		code, out, _ := runCLI(t, "events", "get", "--source", "s", "--id", "dl-1", "--url", url)
		return code == 0 && strings.Contains(out, `"state": "delivered"`) && strings.Contains(out, `"redriven_at"`) &&
			strings.Contains(out, `"status": 400`) && strings.Contains(out, `"attempts": 2`)
	})
	if code, _, errOut := runCLI(t, "events", "get", "--source", "s", "--id", "never-sent", "--url", url); code == 0 || !strings.Contains(errOut, "aged out") {
		t.Errorf("events get of an unknown event: exit %d, %s; want a failure saying it may have aged out", code, errOut)
	}
}

// Two bus processes sharing PostgreSQL: a route created through one serves
// events on the other within a second.
func TestReplicasSharingPostgresServeEachOthersRoutes(t *testing.T) {
	pg := os.Getenv("EVENTBUS_TEST_POSTGRES")
	if pg == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("EVENTBUS_TEST_POSTGRES is not set: CI must run the replica test against a real PostgreSQL")
		}
		t.Skip("set EVENTBUS_TEST_POSTGRES to run the replica test")
	}
	delivered := make(chan string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delivered <- r.Header.Get("Ce-Id")
	}))
	defer hook.Close()
	_, one := serveProcess(t, "--store", pg)
	_, two := serveProcess(t, "--store", pg)
	name := fmt.Sprintf("replicated-%d", time.Now().UnixNano())
	file := filepath.Join(t.TempDir(), "route.yaml")
	os.WriteFile(file, []byte("name: "+name+"\nmatch: {type: ["+name+"]}\ntarget: {http: {url: '"+hook.URL+"'}}\n"), 0o644)
	if code, out, errOut := runCLI(t, "routes", "apply", "-f", file, "--url", one); code != 0 {
		t.Fatalf("apply on the first replica: %s %s", out, errOut)
	}
	created := time.Now()
	t.Cleanup(func() { runCLI(t, "routes", "delete", name, "--url", one) })

	for i := 0; ; i++ {
		_, out, _ := runCLI(t, "emit", "--url", two, "--type", name, "--source", "test", "--id", fmt.Sprint(i))
		if strings.Contains(out, `"`+name+`"`) {
			break
		}
		if time.Since(created) > time.Second {
			t.Fatalf("the second replica did not route to %s within 1s of its creation on the first", name)
		}
	}
	t.Logf("the second replica routed to the new route %v after it was created on the first", time.Since(created).Round(time.Millisecond))
	select {
	case <-delivered:
	case <-time.After(10 * time.Second):
		t.Fatal("the event the second replica accepted was never delivered")
	}
}
