package bustest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// An emitted event reaches the webhook through a started bus, with its
// binary-mode headers and data; calls answered with an error are not
// recorded; a stopped bus no longer answers.
func TestAnEmittedEventReachesTheWebhook(t *testing.T) {
	hook := bustest.NewWebhook(t, func(call int) int {
		if call == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	srv := bustest.Start(t, bus.Config{Routes: []router.Route{{
		Name:     "all",
		Target:   router.Target{HTTP: &router.HTTPTarget{URL: hook.URL}},
		Delivery: router.Delivery{Backoff: router.Backoff{Initial: spec.Duration(time.Millisecond), Max: spec.Duration(time.Millisecond)}},
	}}})

	bustest.Emit(t, srv.URL, "e-1", map[string]string{"ce-type": "order.created"})
	d := hook.Next(t)
	if d.Header.Get("Ce-Id") != "e-1" || d.Header.Get("Ce-Type") != "order.created" || string(d.Body) != `{"n":"e-1"}` {
		t.Errorf("delivered %v %s; want ce-id e-1, ce-type order.created and the emitted data", d.Header, d.Body)
	}
	if n := len(hook.Deliveries()); n != 1 {
		t.Errorf("%d deliveries recorded; want 1: the call answered 503 is not a delivery", n)
	}

	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, _, err := bustest.PostEvent(srv.URL, "e-2", nil); err == nil {
		t.Error("a stopped bus still answered")
	}
}
