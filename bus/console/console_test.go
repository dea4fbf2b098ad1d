package console_test

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/browsertest"
	"github.com/eventbus-go/eventbus/router"
)

var screenshots = flag.Bool("screenshots", false, "write the console's screenshots to docs/images/")

// startBrowser starts a headless Chromium for the test and returns a tab.
func startBrowser(t *testing.T) context.Context {
	return browsertest.Start(t, 1280, 720)
}

// do runs steps in the tab, failing the test if they take over 20s.
func do(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitFor polls a JavaScript condition in the page.
func waitFor(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond))
}

// screenshot writes the tab to docs/images/console-<name>.png with
// -screenshots.
func screenshot(t *testing.T, name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		if !*screenshots {
			return chromedp.Void{}, nil
		}
		png, err := chromedp.CaptureScreenshot()(ctx, target)
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join("..", "..", "docs", "images", "console-"+name+".png"), png, 0o644)
	}
}

// The console, in a real browser, against a bus with authentication on:
// it asks for a key, then lists routes with their depth, looks up an
// event, redrives a dead letter, answers in the playground and tails the
// bus — each through the API and its ACL.
func TestConsoleInABrowser(t *testing.T) {
	key := auth.GenerateKey()
	t.Setenv("EVENTBUS_TEST_CONSOLE_KEY", key)
	var fixed atomic.Bool
	var redelivered atomic.Bool
	hook := bustest.NewWebhook(t, func(int) int {
		if fixed.Load() {
			redelivered.Store(true)
			return http.StatusOK
		}
		return http.StatusBadRequest // dead-letters at once
	})
	srv := bustest.Start(t, bus.Config{
		Auth: &auth.Config{Admins: []string{"ops"}, APIKeys: []auth.APIKeyConfig{{Name: "console", KeyEnv: "EVENTBUS_TEST_CONSOLE_KEY", Groups: []string{"ops"}}}},
		Routes: []router.Route{
			{Name: "orders", Paused: true, Match: []byte(`{"type":["order.created"]}`), Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/unused"}}},
			{Name: "picky", Match: []byte(`{"type":["invoice.sent"]}`), Target: router.Target{HTTP: &router.HTTPTarget{URL: hook.URL}}},
		},
	})
	bearer := map[string]string{"Authorization": "Bearer " + key}
	emit := func(id, typ string) {
		bustest.Emit(t, srv.URL, id, map[string]string{"Authorization": bearer["Authorization"], "ce-type": typ})
	}
	emit("order-1", "order.created")
	emit("order-2", "order.created")
	emit("invoice-1", "invoice.sent")

	tab := startBrowser(t)
	console := srv.URL + "/console/"

	do(t, tab, "the console asks for credentials, then lists the routes with their depth",
		chromedp.Navigate(console+"#routes"),
		waitFor(`!document.querySelector("#error").hidden && document.querySelector("#error").textContent.includes("credentials")`),
		chromedp.SetValue(chromedp.CSS("#token"), key),
		chromedp.Click(chromedp.CSS(`#login button[type="submit"]`)),
		waitFor(`(document.querySelector('tr[data-route="orders"] td:nth-child(4)') || {}).textContent === "2"`),
		waitFor(`document.querySelector("#error").hidden`),
		waitFor(`document.querySelectorAll('tr[data-route="orders"] canvas').length === 1`),
		// Consumers: none on the paused route, max_inflight slots on the other.
		waitFor(`document.querySelector('tr[data-route="orders"] td:nth-child(6)').textContent === "0 / 0"`),
		waitFor(`document.querySelector('tr[data-route="picky"] td:nth-child(6)').textContent === "0 / 16"`),
	)
	emit("order-2b", "order.created")
	do(t, tab, "the depth and rates chart, after a few polls",
		waitFor(`(document.querySelector('tr[data-route="orders"] td:nth-child(4)') || {}).textContent === "3"`),
		waitFor(`document.querySelector('tr[data-route="orders"]').dataset.samples >= 3`),
		screenshot(t, "routes"),
	)
	var kept string
	do(t, tab, "reading where the key is kept", func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		var err error
		kept, err = chromedp.Evaluate[string](`sessionStorage.getItem("eventbus-token") + "|" + localStorage.length + "|" + document.cookie`)(ctx, target)
		return chromedp.Void{}, err
	})
	if kept != key+"|0|" {
		t.Errorf("the key is kept as %q (sessionStorage|localStorage entries|cookies); want it in sessionStorage only", kept)
	}

	do(t, tab, "event lookup shows where an event is",
		chromedp.Navigate(console+"#lookup"),
		chromedp.SetValue(chromedp.CSS("#lookup-source"), "/src"),
		chromedp.SetValue(chromedp.CSS("#lookup-id"), "order-1"),
		chromedp.Click(chromedp.CSS(`#lookup-form button`)),
		waitFor(`(document.querySelector("#lookup-summary") || {}).textContent?.includes("matched orders")`),
		waitFor(`document.querySelector('[data-state]').dataset.state === "pending"`),
		chromedp.SetValue(chromedp.CSS("#lookup-id"), "invoice-1"),
		chromedp.Click(chromedp.CSS(`#lookup-form button`)),
		waitFor(`(document.querySelector("#lookup-summary") || {}).textContent?.includes("matched picky")`),
		waitFor(`document.querySelector('[data-state]').dataset.state === "dead_lettered"`),
		waitFor(`document.querySelector(".attempts tbody").textContent.includes("400")`),
		screenshot(t, "lookup"),
	)

	do(t, tab, "the dead letter is listed with its payload",
		chromedp.Navigate(console+"#dlq"),
		waitFor(`[...document.querySelectorAll("#dlq-route option")].some(o => o.value === "picky")`),
		chromedp.SetValue(chromedp.CSS("#dlq-route"), "picky"),
		chromedp.Click(chromedp.CSS(`#dlq-form button[type="submit"]`)),
		waitFor(`document.querySelector('#dlq tr[data-id="invoice-1"]') !== null`),
		chromedp.Click(chromedp.CSS(`#dlq tr[data-id="invoice-1"] a`)),
		waitFor(`document.querySelector("#dlq-payload").textContent.includes('"deadletterreason"')`),
		screenshot(t, "dead-letters"),
	)
	fixed.Store(true)
	do(t, tab, "redriving the dead letter from the page",
		chromedp.Click(chromedp.CSS(`#dlq tr[data-id="invoice-1"] button`)),
		waitFor(`document.querySelector("#dlq-total").textContent.startsWith("1 redriven")`),
	)
	if got := hook.WaitFor(t, 1); len(got) != 1 || got[0].Header.Get("Ce-Id") != "invoice-1" || !redelivered.Load() {
		t.Fatalf("after the redrive the target got %d deliveries; want invoice-1 once", len(got))
	}

	do(t, tab, "the playground answers for a pattern and for every route",
		chromedp.Navigate(console+"#playground"),
		chromedp.Click(chromedp.CSS(`#pattern-form button[type="submit"]`)),
		waitFor(`document.querySelector("#pattern-result").textContent.startsWith("matches")`),
		chromedp.Click(chromedp.CSS("#pattern-routes")),
		waitFor(`(document.querySelector('#pattern-routes-result tr[data-route="orders"] td:nth-child(3)') || {}).textContent === "yes"`),
		waitFor(`document.querySelector('#pattern-routes-result tr[data-route="picky"] td:nth-child(4)').textContent.includes("type")`),
		screenshot(t, "playground"),
	)

	do(t, tab, "the live tail shows an event as ingress stores it",
		chromedp.Navigate(console+"#tail"),
		chromedp.Click(chromedp.CSS("#tail-start")),
		waitFor(`document.querySelector("#tail-status").textContent === "tailing bus default"`),
	)
	emit("order-3", "order.created")
	do(t, tab, "the tailed event",
		waitFor(`[...document.querySelectorAll("#tail tbody tr")].some(r => r.textContent.includes("order-3") && r.textContent.includes("orders"))`),
		screenshot(t, "tail"),
		chromedp.Click(chromedp.CSS("#tail-stop")),
	)
}

// The console's answers forbid inline script, other origins and framing.
func TestConsoleIsServedWithASecurityPolicy(t *testing.T) {
	srv := bustest.Start(t, bus.Config{})
	for _, path := range []string{"/console/", "/console/app.js"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != http.StatusOK || !strings.Contains(csp, "default-src 'self'") || resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d, CSP %q, X-Frame-Options %q; want 200 with default-src 'self', DENY and nosniff", path, resp.StatusCode, csp, resp.Header.Get("X-Frame-Options"))
		}
	}
}
