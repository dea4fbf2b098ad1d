package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/bus/history"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// lookup asks GET /v1/events for (bus, /src, id), with token as bearer
// credential when set, and decodes a 200 answer.
func lookup(t *testing.T, base, busName, id, token string) (int, history.Event, string) {
	t.Helper()
	q := url.Values{"bus": {busName}, "source": {"/src"}, "id": {id}}
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/events?"+q.Encode(), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e history.Event
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("lookup answer %s: %v", body, err)
		}
	}
	return resp.StatusCode, e, string(body)
}

// waitForState polls the lookup until route reaches state, and returns the
// event as it then is.
func waitForState(t *testing.T, base, id, route string, state history.State) history.Event {
	t.Helper()
	var got history.Event
	if !testkit.Poll(10*time.Second, testkit.Interval, func() bool {
		status, e, _ := lookup(t, base, router.DefaultBus, id, "")
		got = e
		return status == http.StatusOK && len(e.Routes) == 1 && e.Routes[0].Route == route && e.Routes[0].State == state
	}) {
		t.Fatalf("event %s did not reach state %s on route %s; last seen %+v", id, state, route, got)
	}
	return got
}

// On a backend that can delay, a retry goes back to the channel and comes
// back to a dispatcher as a new message: the history must still join both
// attempts to the one event the producer sent.
func TestEventLookupShowsBothAttemptsOfAnEventDeliveredAtTheSecond(t *testing.T) {
	hook := bustest.NewWebhook(t, func(call int) int {
		if call == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	r := route("flaky", hook.URL, "")
	r.Delivery.Backoff = router.Backoff{Initial: spec.Duration(10 * time.Millisecond), Max: spec.Duration(10 * time.Millisecond)}
	base := bustest.Start(t, bus.Config{Routes: []router.Route{r}}).URL

	before := time.Now()
	bustest.Emit(t, base, "lookup-1", nil)
	e := waitForState(t, base, "lookup-1", "flaky", history.Delivered)

	if e.Bus != router.DefaultBus || e.Source != "/src" || e.ID != "lookup-1" || e.AcceptedAt.Before(before.Add(-time.Second)) {
		t.Errorf("event = %+v; want bus default, source /src, id lookup-1, accepted after %v", e, before)
	}
	fate := e.Routes[0]
	if fate.Attempts != 2 || len(fate.Latest) != 2 {
		t.Fatalf("route flaky = %+v; want two attempts recorded", fate)
	}
	first, second := fate.Latest[0], fate.Latest[1]
	if first.Verdict != "retry" || first.Status != http.StatusServiceUnavailable || second.Verdict != "ack" || second.Status != 0 && second.Status != http.StatusOK {
		t.Errorf("attempts = %+v; want a retry answered 503, then an ack", fate.Latest)
	}
	if !second.At.After(first.At) || first.LatencyMS <= 0 {
		t.Errorf("attempts = %+v; want the second after the first, each with its latency", fate.Latest)
	}
	if n := len(hook.WaitFor(t, 1)); n != 1 {
		t.Errorf("the webhook recorded %d deliveries; want 1", n)
	}
}

func TestEventLookupShowsADeadLetterWithTheTargetsAnswerAndItsRedrive(t *testing.T) {
	hook := bustest.NewWebhook(t, func(int) int { return http.StatusBadRequest })
	srv := bustest.Start(t, bus.Config{Routes: []router.Route{route("strict", hook.URL, "")}})

	bustest.Emit(t, srv.URL, "lookup-dl", nil)
	e := waitForState(t, srv.URL, "lookup-dl", "strict", history.DeadLettered)
	if a := e.Routes[0].Latest; len(a) != 1 || a[0].Status != http.StatusBadRequest || a[0].Verdict != "dead-letter" || a[0].Reason == "" {
		t.Errorf("attempts = %+v; want one dead-letter answered 400, with the reason", a)
	}

	// Redriven, it is pending again, then dead-lettered by its next attempt.
	// The history may say dead_lettered a moment before the dead-letter
	// channel holds it: redrive until one is put back.
	testkit.EventuallyNoError(t, 10*time.Second, func() error {
		n, err := srv.Bus.Redrive(context.Background(), "strict", []string{"lookup-dl"})
		if err == nil && n != 1 {
			err = fmt.Errorf("redrove %d dead letters; want 1", n)
		}
		return err
	})
	testkit.Eventually(t, 10*time.Second, "the redriven event to show its redrive and a second attempt", func() bool {
		_, e, _ := lookup(t, srv.URL, router.DefaultBus, "lookup-dl", "")
		return len(e.Routes) == 1 && !e.Routes[0].RedrivenAt.IsZero() && e.Routes[0].Attempts == 2 && e.Routes[0].State == history.DeadLettered
	})
}

func TestEventLookupOfAnUnknownEventIs404SayingTheHistorysBounds(t *testing.T) {
	base := bustest.Start(t, bus.Config{History: bus.HistoryConfig{MaxEvents: 500, MaxAge: spec.Duration(10 * time.Minute)}}).URL
	status, _, body := lookup(t, base, router.DefaultBus, "never-sent", "")
	if status != http.StatusNotFound || !strings.Contains(body, "aged out") || !strings.Contains(body, "last 500 events for at most 10m0s") {
		t.Errorf("got %d %s; want 404 saying the event may have aged out and the history's bounds", status, body)
	}
}

func TestEventLookupOfAnEventMatchingNoRouteShowsItWasAccepted(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	bustest.Emit(t, base, "nowhere", nil)
	status, e, body := lookup(t, base, router.DefaultBus, "nowhere", "")
	if status != http.StatusOK || e.AcceptedAt.IsZero() || len(e.Routes) != 0 || !strings.Contains(body, `"routes":[]`) {
		t.Errorf("got %d %s; want the event accepted, matching no route", status, body)
	}
}

func TestEventLookupNeedsTheReadRightOnTheBus(t *testing.T) {
	s := startSecuredBus(t)
	if status, body := s.emit(t, s.keys["shop-web"], "secret-order", "order.created"); status != http.StatusAccepted {
		t.Fatalf("emit: %d %s", status, body)
	}
	path := "/v1/events?bus=shop&source=%2Fsrc&id=secret-order"
	for _, who := range []string{"shop-web", "acme"} { // may emit, may not read
		status, _, body := s.do(t, http.MethodGet, path, s.keys[who], nil, "")
		checkRefusal(t, status, body, http.StatusForbidden, "permission_denied", "may not read bus")
	}
	status, _, body := s.do(t, http.MethodGet, path, "", nil, "")
	if status != http.StatusUnauthorized {
		t.Errorf("without credentials: %d %s; want 401", status, body)
	}
	status, _, body = s.do(t, http.MethodGet, path, s.keys["support"], nil, "")
	if status != http.StatusOK || !strings.Contains(body, `"route":"orders"`) {
		t.Errorf("support (read on shop): %d %s; want 200 naming route orders", status, body)
	}
}

func TestHistoryOffAnswersThatTheBusKeepsNone(t *testing.T) {
	base := bustest.Start(t, bus.Config{History: bus.HistoryConfig{Off: true}}).URL
	bustest.Emit(t, base, "x", nil)
	status, _, body := lookup(t, base, router.DefaultBus, "x", "")
	if status == http.StatusOK || !strings.Contains(body, "history.off") {
		t.Errorf("got %d %s; want a refusal naming history.off", status, body)
	}
}

func TestNegativeHistoryBoundsAreRefusedNamingTheField(t *testing.T) {
	err := bus.Config{History: bus.HistoryConfig{MaxEvents: -1, MaxAge: spec.Duration(-time.Second)}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "history.max_events") || !strings.Contains(err.Error(), "history.max_age") {
		t.Errorf("Validate = %v; want errors naming history.max_events and history.max_age", err)
	}
}

func TestAHistoryLargerThanItsIndexCanTellApartIsRefused(t *testing.T) {
	err := bus.Config{History: bus.HistoryConfig{MaxEvents: history.MaxEventsBound + 1}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "history.max_events") || !strings.Contains(err.Error(), "at most") {
		t.Errorf("Validate = %v; want an error naming history.max_events and its bound", err)
	}
}
