package sdk_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/sdk"
)

// busClient runs a bus in this process until the test ends and returns a
// client for it.
func busClient(t *testing.T) *sdk.Client {
	t.Helper()
	c, err := sdk.New(bustest.Start(t, bus.Config{}).URL, sdk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Against a real bus: a route whose target always fails dead-letters the
// event; stats count it, the DLQ lists it, redrive puts it back.
func TestAgainstABusRoutesStatsDeadLettersAndRedrive(t *testing.T) {
	c := busClient(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer failing.Close()

	_, err := c.PutRoute(t.Context(), sdk.Route{
		Name:     "orders",
		Match:    json.RawMessage(`{"type":["order.created"]}`),
		Target:   sdk.Target{HTTP: &sdk.HTTPTarget{URL: failing.URL}},
		Delivery: &sdk.Delivery{MaxAttempts: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := event.New()
	e.SetID("o-1")
	e.SetSource("shop")
	e.SetType("order.created")
	res, err := c.Emit(t.Context(), e)
	if err != nil || len(res.Routes) != 1 {
		t.Fatalf("Emit = %+v, %v; want stored on route orders", res, err)
	}

	testkit.Eventually(t, 10*time.Second, "the event dead-lettered", func() bool {
		st, err := c.RouteStats(t.Context(), "orders")
		return err == nil && st.DeadLettered == 1
	})
	page, err := c.DeadLetters(t.Context(), "orders", sdk.PageOptions{Limit: 10})
	if err != nil || page.Total != 1 || len(page.Events) != 1 || page.Events[0].ID() != "o-1" {
		t.Fatalf("DeadLetters = %+v, %v; want event o-1", page, err)
	}
	if reason := page.Events[0].Extensions()["deadletterreason"]; reason == nil {
		t.Errorf("dead letter has no deadletterreason: %v", page.Events[0].Extensions())
	}
	n, err := c.Redrive(t.Context(), "orders", "o-1")
	if err != nil || n != 1 {
		t.Fatalf("Redrive = %d, %v; want 1", n, err)
	}

	bad := event.New() // no id, source or type
	_, err = c.Emit(t.Context(), bad)
	if !sdk.IsInvalid(err) {
		t.Errorf("Emit of an invalid event = %v; want IsInvalid", err)
	}
	if _, err := c.RouteStats(t.Context(), "missing"); !sdk.IsNotFound(err) {
		t.Errorf("RouteStats of a missing route = %v; want IsNotFound", err)
	}
}

// Against a real bus: CreateRoute and CreateBus create, and refuse with 409
// what exists, leaving it as it was.
func TestAgainstABusCreateNeverReplaces(t *testing.T) {
	c := busClient(t)
	route := sdk.Route{Name: "orders", Target: sdk.Target{HTTP: &sdk.HTTPTarget{URL: "http://127.0.0.1:9/orders"}}}
	saved, err := c.CreateRoute(t.Context(), route)
	if err != nil || saved.Version != 1 || saved.Origin != "api" {
		t.Fatalf("CreateRoute of a new route = %+v, %v; want version 1, origin api", saved, err)
	}
	route.Target.HTTP.URL = "http://127.0.0.1:9/elsewhere"
	if _, err := c.CreateRoute(t.Context(), route); !sdk.IsConflict(err) {
		t.Errorf("CreateRoute of an existing route = %v; want IsConflict, so a create never takes over a route made elsewhere", err)
	}
	if got, err := c.GetRoute(t.Context(), "orders"); err != nil || got.Version != 1 || got.Target.HTTP.URL != "http://127.0.0.1:9/orders" {
		t.Errorf("route after the refused create = %+v, %v; want it unchanged at version 1", got, err)
	}

	bus, err := c.CreateBus(t.Context(), sdk.Bus{Name: "shop"})
	if err != nil || bus.Version != 1 || bus.Origin != "api" {
		t.Fatalf("CreateBus of a new bus = %+v, %v; want version 1, origin api", bus, err)
	}
	if _, err := c.CreateBus(t.Context(), sdk.Bus{Name: "shop", Backend: "mem://"}); !sdk.IsConflict(err) {
		t.Errorf("CreateBus of an existing bus = %v; want IsConflict", err)
	}
	if got, err := c.GetBus(t.Context(), "shop"); err != nil || got.Version != 1 || got.Backend != "" {
		t.Errorf("bus after the refused create = %+v, %v; want it unchanged at version 1", got, err)
	}

	// The builtin default bus counts as not yet created; once set, it does,
	// until deleting it resets it.
	if _, err := c.CreateBus(t.Context(), sdk.Bus{Name: "default", Backend: "mem://"}); err != nil {
		t.Fatalf("CreateBus of the builtin default bus = %v; want it set", err)
	}
	if _, err := c.CreateBus(t.Context(), sdk.Bus{Name: "default"}); !sdk.IsConflict(err) {
		t.Errorf("CreateBus of the default bus once set = %v; want IsConflict", err)
	}
	if err := c.DeleteBus(t.Context(), "default"); err != nil {
		t.Fatalf("DeleteBus of the default bus = %v; want it reset", err)
	}
	if got, err := c.GetBus(t.Context(), "default"); err != nil || got.Origin != "builtin" || got.Backend != "" {
		t.Errorf("default bus after its delete = %+v, %v; want origin builtin, no backend", got, err)
	}
	if _, err := c.CreateBus(t.Context(), sdk.Bus{Name: "default", Backend: "mem://"}); err != nil {
		t.Errorf("CreateBus of the default bus after its reset = %v; want it set again", err)
	}
}

// Against a real bus: a route's batch settings go out and come back under
// the bus's keys, so a client sees what the bus runs.
func TestAgainstABusBatchSettingsRoundTrip(t *testing.T) {
	c := busClient(t)
	want := sdk.Batch{MaxEvents: 50, MaxBytes: 65536, MaxWait: "25ms"}
	_, err := c.PutRoute(t.Context(), sdk.Route{
		Name:     "batched",
		Target:   sdk.Target{HTTP: &sdk.HTTPTarget{URL: "http://127.0.0.1:9/hook"}},
		Delivery: &sdk.Delivery{Batch: &want},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRoute(t.Context(), "batched")
	if err != nil {
		t.Fatal(err)
	}
	if got.Delivery == nil || got.Delivery.Batch == nil || *got.Delivery.Batch != want {
		t.Fatalf("GetRoute delivery = %+v; want batch %+v as it was put", got.Delivery, want)
	}
	_, err = c.PutRoute(t.Context(), sdk.Route{
		Name:     "batched",
		Target:   sdk.Target{HTTP: &sdk.HTTPTarget{URL: "http://127.0.0.1:9/hook"}},
		Delivery: &sdk.Delivery{Batch: &sdk.Batch{MaxEvents: 5000}},
	})
	if !sdk.IsInvalid(err) || !strings.Contains(err.Error(), "delivery.batch.max_events") {
		t.Errorf("PutRoute with max_events 5000 = %v; want IsInvalid naming delivery.batch.max_events", err)
	}
}
