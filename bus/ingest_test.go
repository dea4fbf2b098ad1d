package bus

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

func newEvent(id, typ string) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/test")
	e.SetType(typ)
	return &e
}

// busWithPausedOrders is a bus with one route on mem://, orders, for
// order.created. Paused: it stores without delivering, so nothing else
// runs.
func busWithPausedOrders(t *testing.T) *Bus {
	t.Helper()
	b := startReplica(t, store.NewMemory(), Config{})
	r := router.Route{Name: "orders", Paused: true, Match: []byte(`{"type":["order.created"]}`),
		Target: router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/"}}}
	if _, _, err := b.PutRoute(context.Background(), r, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	return b
}

// Ingest answers in Go types, with no HTTP in sight: the routes that stored
// each event, or why it was not stored, so the HTTP API and plugin replies
// read the same results.
func TestIngestReturnsATypedResultPerEvent(t *testing.T) {
	b := busWithPausedOrders(t)
	results, err := b.Ingest(context.Background(), router.DefaultBus, []*event.Event{
		newEvent("1", "order.created"),
		newEvent("2", "order.shipped"),
		newEvent("", "order.created"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res := results[0]; res.Err != nil || !slices.Equal(res.Routes, []string{"orders"}) {
		t.Errorf("a matching event: %+v; want it stored on orders", res)
	}
	if res := results[1]; res.Err != nil || res.Routes == nil || len(res.Routes) != 0 {
		t.Errorf("an event matching no route: %+v; want it accepted with an empty (not nil) route list", res)
	}
	var fe *spec.FieldError
	if res := results[2]; !errors.As(res.Err, &fe) || fe.Path != "id" || res.Routes != nil {
		t.Errorf("an event without an id: %+v; want a *spec.FieldError naming id and no routes, so the caller knows what to fix", res)
	}
	if _, err := b.Ingest(context.Background(), "nowhere", []*event.Event{newEvent("3", "t")}); errcode.Of(err) != errcode.NotFound {
		t.Errorf("ingest to a bus that does not exist: %v; want NotFound", err)
	}
}

// A batch holding one event twice stores it once and answers both as the
// first, in the order given, whether the batch's events are stored one
// after another (a local backend) or at once.
func TestABatchHoldingAnEventTwiceStoresItOnce(t *testing.T) {
	b := busWithPausedOrders(t)
	results, err := b.Ingest(context.Background(), router.DefaultBus, []*event.Event{
		newEvent("1", "order.created"), newEvent("2", "order.created"), newEvent("1", "order.created"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !b.state.Load().buses[router.DefaultBus].storesLocally() {
		t.Error("a bus whose only route is on mem:// does not store locally")
	}
	for i, id := range []string{"1", "2", "1"} {
		if res := results[i]; res.Err != nil || res.ID != id || res.Source != "/test" || !slices.Equal(res.Routes, []string{"orders"}) {
			t.Errorf("result %d: %+v; want event %s stored on orders", i, res, id)
		}
	}
	if n, err := b.routes["orders"].backend.Depth(context.Background(), "orders"); err != nil || n != 2 {
		t.Errorf("the route holds %d events (%v); want 2: the repeat is not stored again", n, err)
	}
}

// A batch sent again is answered as the first, event by event, and not
// stored again; the history knows each of its events. Its events spread
// over every shard of the dedup, and an invalid one among them is refused
// without moving the others' answers.
func TestABatchSentAgainIsAnsweredAsTheFirstAndStoredOnce(t *testing.T) {
	b := busWithPausedOrders(t)
	// The bus's first event finds out that mem:// keeps no archive; from
	// then on, a batch's events are stored one after another.
	if _, err := b.Ingest(context.Background(), router.DefaultBus, []*event.Event{newEvent("first", "order.created")}); err != nil {
		t.Fatal(err)
	}
	if !b.state.Load().buses[router.DefaultBus].storesLocally() {
		t.Fatal("a bus whose only route is on mem:// does not store locally")
	}
	batch := make([]*event.Event, 200)
	for i := range batch {
		batch[i] = newEvent(fmt.Sprint("e", i), "order.created")
	}
	batch[100].SetType("") // invalid: no type
	for send := range 2 {
		results, err := b.Ingest(context.Background(), router.DefaultBus, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, res := range results {
			if i == 100 {
				if res.Err == nil {
					t.Errorf("send %d: the event without a type was accepted: %+v", send, res)
				}
				continue
			}
			if res.Err != nil || res.ID != batch[i].ID() || !slices.Equal(res.Routes, []string{"orders"}) {
				t.Errorf("send %d, result %d: %+v; want %s stored on orders", send, i, res, batch[i].ID())
			}
		}
	}
	if n, err := b.routes["orders"].backend.Depth(context.Background(), "orders"); err != nil || n != 200 {
		t.Errorf("the route holds %d events (%v); want 200: the first, and each valid event of the batch once", n, err)
	}
	for i, e := range batch {
		if _, ok := b.history.Lookup(router.DefaultBus, "/test", e.ID()); ok != (i != 100) {
			t.Errorf("the history finds event %s: %v", e.ID(), ok)
		}
	}
}

// A route that waits for room when full (overflow: block) is not stored on
// one event after another: a batch's events would wait their block_timeout
// in turn instead of together.
func TestABatchToARouteThatBlocksIsStoredAtOnce(t *testing.T) {
	b := startReplica(t, store.NewMemory(), Config{})
	r := router.Route{Name: "orders", Paused: true, Match: []byte(`{"type":["order.created"]}`),
		Target:   router.Target{HTTP: &router.HTTPTarget{URL: "http://127.0.0.1:9/"}},
		Delivery: router.Delivery{MaxDepth: 1, Overflow: router.OverflowBlock, BlockTimeout: spec.Duration(time.Second)}}
	if _, _, err := b.PutRoute(context.Background(), r, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Ingest(context.Background(), router.DefaultBus, []*event.Event{newEvent("0", "order.created")}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	results, err := b.Ingest(context.Background(), router.DefaultBus, []*event.Event{
		newEvent("1", "order.created"), newEvent("2", "order.created"), newEvent("3", "order.created"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range results {
		if errcode.Of(res.Err) != errcode.ResourceExhausted {
			t.Errorf("event %d: %+v; want refused once the route stayed full", i+1, res)
		}
	}
	if took := time.Since(start); took >= 2500*time.Millisecond {
		t.Errorf("the batch took %v; its events waited their second in turn, not together", took)
	}
}

// validV1 passes the events producers send, and only events the SDK's
// Validate passes too; what it does not pass, Validate judges.
func TestValidV1PassesOnlyWhatTheSDKPasses(t *testing.T) {
	str := func(s string) *string { return &s }
	cases := map[string]func(c *event.EventContextV1){
		"required only":        func(*event.EventContextV1) {},
		"json data":            func(c *event.EventContextV1) { c.DataContentType = str("application/json") },
		"type with parameters": func(c *event.EventContextV1) { c.DataContentType = str(" text/plain; charset=utf-8 ") },
		"every attribute": func(c *event.EventContextV1) {
			c.Subject, c.DataSchema = str("s"), types.ParseURI("https://example.com/s.json")
			c.Time = &types.Timestamp{Time: time.Now()}
		},
		"absolute source":      func(c *event.EventContextV1) { c.Source = *types.ParseURIRef("urn:orders") },
		"host-only source":     func(c *event.EventContextV1) { c.Source = *types.ParseURIRef("//example.com") },
		"blank id":             func(c *event.EventContextV1) { c.ID = " " },
		"blank type":           func(c *event.EventContextV1) { c.Type = "" },
		"no source":            func(c *event.EventContextV1) { c.Source = types.URIRef{} },
		"query-only source":    func(c *event.EventContextV1) { c.Source = *types.ParseURIRef("?q=1") },
		"fragment-only source": func(c *event.EventContextV1) { c.Source = *types.ParseURIRef("#f") },
		"user-only source":     func(c *event.EventContextV1) { c.Source = types.URIRef{URL: url.URL{User: url.User("u")}} },
		"empty-host source":    func(c *event.EventContextV1) { c.Source = *types.ParseURIRef("//") },
		"blank subject":        func(c *event.EventContextV1) { c.Subject = str(" ") },
		"blank content type":   func(c *event.EventContextV1) { c.DataContentType = str(" ") },
		"bad content type":     func(c *event.EventContextV1) { c.DataContentType = str("text/") },
		"relative data schema": func(c *event.EventContextV1) { c.DataSchema = types.ParseURI("/s.json") },
	}
	for name, change := range cases {
		c := &event.EventContextV1{ID: "1", Source: *types.ParseURIRef("/orders"), Type: "order.placed"}
		change(c)
		e := event.Event{Context: c}
		sdkErr := e.Validate()
		if validV1(c) && sdkErr != nil {
			t.Errorf("%s: validV1 passes it, the SDK says %v", name, sdkErr)
		}
		if err := validate(&e); (err == nil) != (sdkErr == nil) {
			t.Errorf("%s: validate says %v, the SDK %v", name, err, sdkErr)
		}
	}
	for _, name := range []string{"required only", "json data", "type with parameters", "every attribute", "absolute source", "host-only source"} {
		c := &event.EventContextV1{ID: "1", Source: *types.ParseURIRef("/orders"), Type: "order.placed"}
		cases[name](c)
		if !validV1(c) {
			t.Errorf("%s: left to the SDK's Validate", name)
		}
	}
}
