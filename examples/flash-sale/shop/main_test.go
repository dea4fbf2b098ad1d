package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/sdk"
)

// A rush of 1,000 orders: the bus queues exactly the first 100 on the
// flash route and diverts the other 900 to sold-out; every order reaches
// the warehouse or the sold-out page, none is lost or counted twice.
func TestFlashSaleQueuesTheFirst100AndSellsOutTheRest(t *testing.T) {
	const orders, places = 1000, 100
	s := newShop(nil)
	web := httptest.NewServer(s.handler())
	t.Cleanup(web.Close)

	cfg, err := bus.LoadConfig("../bus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range cfg.Routes {
		switch r.Name {
		case queueRoute:
			cfg.Routes[i].Target.HTTP.URL = web.URL + "/warehouse"
		case soldOutRoute:
			cfg.Routes[i].Target.HTTP.URL = web.URL + "/sold-out"
		}
	}
	srv := bustest.Start(t, cfg)
	// Our own transport, to close its spare connections before the bus
	// stops: net/http's Shutdown gives a connection that never sent a
	// request 5 s before it counts as idle.
	tr := shoppersTransport()
	// Runs first: a test that fails mid-sale must not leave the warehouse
	// holding deliveries while the bus drains.
	t.Cleanup(func() {
		s.endSale()
		tr.CloseIdleConnections()
	})
	if s.bus, err = sdk.New(srv.URL, sdk.Options{HTTPClient: &http.Client{Transport: tr}}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	got := s.rush(t.Context(), orders)
	t.Logf("%d orders in %s: %d queued, %d sold out, %d failed", orders, time.Since(start), len(got.Queued), len(got.SoldOut), len(got.Failed))
	for _, err := range got.Failed {
		t.Errorf("an order was not stored: %v", err)
	}
	if len(got.Queued) != places || len(got.SoldOut) != orders-places {
		t.Fatalf("%d queued and %d sold out; want exactly %d queued (the flash route's max_depth) and the other %d diverted",
			len(got.Queued), len(got.SoldOut), places, orders-places)
	}
	st, err := s.bus.RouteStats(t.Context(), queueRoute)
	if err != nil {
		t.Fatal(err)
	}
	if st.Accepted != places || st.Diverted != orders-places {
		t.Errorf("flash stats: accepted %d, diverted %d; want %d and %d, as the 202 results said", st.Accepted, st.Diverted, places, orders-places)
	}

	s.endSale()
	wait, cancelWait := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancelWait()
	if err := s.awaitDeliveries(wait, got); err != nil {
		t.Fatal(err)
	}
	t.Logf("delivered after %s", time.Since(start))
	packed, told := s.delivered()
	if missing := notIn(got.Queued, packed); len(packed) != places || len(missing) > 0 {
		t.Errorf("the warehouse got %d orders, missing %v; want exactly the %d queued", len(packed), missing, places)
	}
	if missing := notIn(got.SoldOut, told); len(told) != orders-places || len(missing) > 0 {
		t.Errorf("the sold-out page got %d orders, missing %v; want exactly the %d diverted", len(told), missing, orders-places)
	}
}

func notIn(ids []string, set map[string]bool) []string {
	var out []string
	for _, id := range ids {
		if !set[id] {
			out = append(out, id)
		}
	}
	return out
}
