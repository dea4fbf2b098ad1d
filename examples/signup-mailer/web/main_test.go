package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/sdk"
)

// startSignupBus runs a bus with the example's bus.yaml, its mailer built
// fresh and writing to outbox, failing each address's first attempt.
func startSignupBus(t *testing.T, outbox string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mailer")
	if out, err := exec.Command("go", "build", "-o", bin, "../mailer").CombinedOutput(); err != nil {
		t.Fatalf("building the mailer: %v\n%s", err, out)
	}
	cfg, err := bus.LoadConfig("../bus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Plugins[0].Cmd = bin
	cfg.Plugins[0].Env = map[string]string{"MAILER_OUTBOX": outbox, "MAILER_FAIL_FIRST": "1"}
	return bustest.Start(t, cfg).URL
}

// A sign-up answers at once; the mailer sends the code after the bus
// retried past a failed first attempt.
func TestSignupReturnsAtOnceAndTheMailerSendsTheCode(t *testing.T) {
	outbox := filepath.Join(t.TempDir(), "outbox.jsonl")
	busURL := startSignupBus(t, outbox)
	client, err := sdk.New(busURL, sdk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(newHandler(client))
	defer web.Close()

	start := time.Now()
	resp, err := http.Post(web.URL+"/signup", "application/json", strings.NewReader(`{"email":"ada@example.com","plan":"pro"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("sign-up answered %d; want 202", resp.StatusCode)
	}
	answered := time.Since(start)

	var got struct{ To, Code string }
	testkit.Eventually(t, 15*time.Second, "a verification email in the outbox", func() bool {
		if f, err := os.Open(outbox); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				_ = json.Unmarshal(sc.Bytes(), &got)
			}
			f.Close()
		}
		return got.To != ""
	})
	t.Logf("sign-up answered in %s; email to %s with code %s after %s", answered, got.To, got.Code, time.Since(start))
	if got.To != "ada@example.com" || len(got.Code) != 6 {
		t.Errorf("email = %+v; want a 6-digit code to ada@example.com", got)
	}
	st, err := client.RouteStats(t.Context(), "signup-mail")
	if err != nil {
		t.Fatal(err)
	}
	if st.Retried < 1 {
		t.Errorf("stats = %+v; want the failed first attempt retried", st)
	}
}
