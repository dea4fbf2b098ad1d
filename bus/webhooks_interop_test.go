package bus_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
)

// interopDir holds the receiver written with the standardwebhooks npm
// package, pinned in its package-lock.json; scripts/test.sh installs it.
const interopDir = "../test/webhooks"

// verdictLine is what the receiver prints for each delivery: one result per
// secret it holds, each tried alone.
type verdictLine struct {
	Listening int    `json:"listening"`
	CEID      string `json:"ce_id"`
	WebhookID string `json:"webhook_id"`
	Results   []struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"results"`
}

// jsReceiver is the receiver process, its URL and the verdicts it printed.
type jsReceiver struct {
	url      string
	verdicts chan verdictLine
}

// startJSReceiver runs the receiver until the test ends. Without Node or
// the installed package the test skips, except under CI=true, where that
// is a failure: CI must prove the interop.
func startJSReceiver(t *testing.T) *jsReceiver {
	t.Helper()
	missing := func(what string) {
		msg := what + ": run scripts/test.sh, or npm ci --prefix test/webhooks, to test signatures against the standardwebhooks package"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "standardwebhooks", "package.json")); err != nil {
		missing("the standardwebhooks package is not installed in test/webhooks")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "receiver.js")
	cmd.Dir = interopDir
	cmd.Stderr = os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the receiver: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	rec := &jsReceiver{verdicts: make(chan verdictLine, 100)}
	go func() {
		defer close(rec.verdicts)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var v verdictLine
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Errorf("receiver printed %q: %v", sc.Text(), err)
				continue
			}
			rec.verdicts <- v
		}
	}()
	first := rec.next(t)
	if first.Listening == 0 {
		t.Fatalf("the receiver's first line must say where it listens; got %+v", first)
	}
	rec.url = "http://127.0.0.1:" + strconv.Itoa(first.Listening)
	return rec
}

func (r *jsReceiver) next(t *testing.T) verdictLine {
	t.Helper()
	select {
	case v, ok := <-r.verdicts:
		if !ok {
			t.Fatal("the receiver exited")
		}
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no verdict from the receiver within 10s")
		return verdictLine{}
	}
}

// hold gives the receiver the secrets to try on the next deliveries.
func (r *jsReceiver) hold(t *testing.T, secrets ...string) {
	t.Helper()
	body, _ := json.Marshal(secrets)
	if status, answer := do(t, http.MethodPut, r.url+"/secrets", string(body)); status != http.StatusNoContent {
		t.Fatalf("PUT /secrets: %d %s", status, answer)
	}
}

// verdictOf waits for the receiver's verdict on event id and returns, per
// secret held, whether it verified.
func (r *jsReceiver) verdictOf(t *testing.T, id string) []bool {
	t.Helper()
	v := r.next(t)
	if v.CEID != id {
		t.Fatalf("the receiver got event %q; want %q", v.CEID, id)
	}
	var ok []bool
	for _, res := range v.Results {
		ok = append(ok, res.OK)
		if !res.OK {
			t.Logf("event %s: standardwebhooks says %s", id, res.Error)
		}
	}
	return ok
}

// A receiver built on the standardwebhooks npm package, not on our code,
// verifies what the bus delivers: before a rotation with the first secret,
// during the overlap with either secret, and after it with the new one only.
func TestAStandardWebhooksReceiverVerifiesDeliveriesAcrossARotation(t *testing.T) {
	rec := startJSReceiver(t)
	base := bustest.Start(t, bus.Config{}).URL

	// The receiver is no rubber stamp: a forged signature fails.
	forged := "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItdGhlLWludGVyb3AtdGVzdA=="
	rec.hold(t, forged)
	req, _ := http.NewRequest(http.MethodPost, rec.url+"/hook", strings.NewReader(`{"n":"forged"}`))
	req.Header = http.Header{"Ce-Id": {"forged"}, "Webhook-Id": {"msg_x"}, "Webhook-Timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}, "Webhook-Signature": {"v1,bm90IGEgc2lnbmF0dXJl"}}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := rec.verdictOf(t, "forged"); len(got) != 1 || got[0] {
		t.Fatalf("verdicts on a forged delivery = %v; want [false]", got)
	}

	status, body := do(t, http.MethodPut, base+"/v1/routes/interop", `{"target":{"http":{"url":"`+rec.url+`/hook"}}}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	first := decodeRoute(t, body).Target.HTTP.Signing.Secret

	rec.hold(t, first)
	bustest.Emit(t, base, "before", nil)
	if got := rec.verdictOf(t, "before"); len(got) != 1 || !got[0] {
		t.Errorf("before the rotation, verdicts = %v; want [true]: standardwebhooks must accept the bus's signature", got)
	}

	status, body = do(t, http.MethodPost, base+"/v1/routes/interop/signing-secret", "")
	if status != http.StatusOK {
		t.Fatalf("rotate: %d %s", status, body)
	}
	second := decodeRoute(t, body).Target.HTTP.Signing.Secret
	rec.hold(t, first, second)
	bustest.Emit(t, base, "during", nil)
	if got := rec.verdictOf(t, "during"); len(got) != 2 || !got[0] || !got[1] {
		t.Errorf("during the overlap, verdicts with [old, new] = %v; want [true true]: a receiver on either secret must accept", got)
	}

	if status, body := do(t, http.MethodDelete, base+"/v1/routes/interop/signing-secret/previous", ""); status != http.StatusOK {
		t.Fatalf("expire previous: %d %s", status, body)
	}
	bustest.Emit(t, base, "after", nil)
	if got := rec.verdictOf(t, "after"); len(got) != 2 || got[0] || !got[1] {
		t.Errorf("after the overlap, verdicts with [old, new] = %v; want [false true]", got)
	}
}
