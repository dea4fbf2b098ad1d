package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/browsertest"
	"github.com/eventbus-go/eventbus/sdk"
)

// startChatBus runs a bus with the example's bus.yaml, its route delivering to
// hook, until the test ends, and returns its URL.
func startChatBus(t *testing.T, hook string) string {
	t.Helper()
	cfg, err := bus.LoadConfig("../bus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Routes[0].Target.HTTP.URL = hook
	return bustest.Start(t, cfg).URL
}

// startBrowser starts a headless Chromium for the test and returns a
// context whose children are its tabs.
func startBrowser(t *testing.T) context.Context {
	return browsertest.Start(t, 900, 640)
}

// tab is one browser tab on the chat page.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context
}

// openTab opens url in a new tab and waits until its page follows the
// room's event stream.
func openTab(t *testing.T, browser context.Context, name, url string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	// The tab lives as long as the context of its first Run: open it with
	// no timeout, then bound each step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: opening a tab: %v", name, err)
	}
	tb := &tab{t: t, name: name, ctx: ctx}
	tb.do("open "+url,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`body[data-connected="true"]`)),
	)
	return tb
}

// do runs steps in the tab, failing the test if they take over 15s.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
}

// send types text and sends it, waiting until the server has taken it
// (the page clears the field on 202).
func (tb *tab) send(text string) {
	tb.t.Helper()
	tb.do("send "+text,
		chromedp.SendKeys(chromedp.CSS("#text"), text),
		chromedp.Click(chromedp.CSS("#send button")),
		chromedp.Poll[chromedp.Void](`document.querySelector("#text").value === "" && !document.querySelector("#send button").disabled`),
	)
}

// messages waits until the tab shows at least n messages and returns the
// texts of all it shows, in order.
func (tb *tab) messages(n int) []string {
	tb.t.Helper()
	var texts []string
	tb.do("wait for messages",
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#messages .msg").length >= `+strconv.Itoa(n)),
		func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
			var err error
			texts, err = chromedp.Evaluate[[]string](`[...document.querySelectorAll("#messages .msg .text")].map(e => e.textContent)`)(ctx, target)
			return chromedp.Void{}, err
		},
	)
	return texts
}

// Two tabs in the lobby see each other's messages, in the order they were
// sent, as the bus delivered them; a tab in the kitchen sees only the
// kitchen's.
func TestTabsInARoomSeeItsMessagesInOrderAndNoOtherRoomDoes(t *testing.T) {
	s := newServer(nil)
	web := httptest.NewServer(s.handler())
	t.Cleanup(web.Close)
	busURL := startChatBus(t, web.URL+"/hooks/chat")
	t.Cleanup(s.close) // before the bus and the web server stop: end the event streams
	var err error
	if s.bus, err = sdk.New(busURL, sdk.Options{}); err != nil {
		t.Fatal(err)
	}
	browser := startBrowser(t)

	start := time.Now()
	ada := openTab(t, browser, "ada (lobby)", web.URL+"/?room=lobby&user=ada")
	bob := openTab(t, browser, "bob (lobby)", web.URL+"/?room=lobby&user=bob")
	cy := openTab(t, browser, "cy (kitchen)", web.URL+"/?room=kitchen&user=cy")
	t.Logf("three tabs following their rooms after %s", time.Since(start))

	lobby := []string{"hello from ada", "is anyone here?", "third in a row"}
	for _, text := range lobby {
		ada.send(text)
	}
	if got := bob.messages(len(lobby)); !slices.Equal(got, lobby) {
		t.Errorf("bob's tab shows %q; want ada's messages in the order she sent them: %q", got, lobby)
	}
	if got := ada.messages(len(lobby)); !slices.Equal(got, lobby) {
		t.Errorf("ada's own tab shows %q; want %q, as the bus delivered them back", got, lobby)
	}

	// The kitchen's stream is ordered, and the lobby's messages reached the
	// server before cy sends: had any been passed to the kitchen, it would
	// show before cy's own.
	cy.send("kitchen only")
	if got := cy.messages(1); !slices.Equal(got, []string{"kitchen only"}) {
		t.Errorf("cy's tab in the kitchen shows %q; want only the kitchen's message", got)
	}
	// And the other way: cy's message reached the server before ada's
	// next one, so it would show before it in the lobby.
	ada.send("fourth")
	if got, want := bob.messages(len(lobby)+1), append(lobby, "fourth"); !slices.Equal(got, want) {
		t.Errorf("bob's tab shows %q; want only the lobby's %q", got, want)
	}
	t.Logf("messages seen where they belong after %s", time.Since(start))

	shot := filepath.Join(t.TempDir(), "chat-bob.png")
	var png []byte
	bob.do("screenshot", func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		var err error
		png, err = chromedp.FullScreenshot(100)(ctx, target)
		return chromedp.Void{}, err
	})
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of bob's tab: %s (%d bytes)", shot, len(png))
}
