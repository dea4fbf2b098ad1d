package bus_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/internal/testkit"
)

// archivedBus serves a bus whose default backend is a NATS JetStream server
// embedded in the process, as eventbus serve runs by default, so every
// event it accepts is archived.
func archivedBus(t *testing.T) string {
	t.Helper()
	return bustest.Start(t, bus.Config{DefaultBackend: "nats+embedded://?dir=" + t.TempDir()}).URL
}

// emitNumbered posts events from..to-1, one request each, so that the
// archive holds them in that order (the events of one batch are stored at
// the same time); every tenth (n%10 == 9) has type audit.logged, the others
// order.created. Event n has id "e<n>".
func emitNumbered(t *testing.T, base string, from, to int) {
	t.Helper()
	for n := from; n < to; n++ {
		typ := "order.created"
		if n%10 == 9 {
			typ = "audit.logged"
		}
		ev := fmt.Sprintf(`{"specversion":"1.0","id":"e%d","source":"/shop","type":%q,"data":{"n":%d}}`, n, typ, n)
		resp, body := post(t, base+"/events", "application/cloudevents+json", nil, ev)
		if resp.StatusCode != http.StatusAccepted || strings.Contains(body, `"error"`) {
			t.Fatalf("emitting event %d: %d %s", n, resp.StatusCode, body)
		}
	}
}

// orderIDs are the ids of the order.created events among from..to-1, in order.
func orderIDs(from, to int) []string {
	var ids []string
	for n := from; n < to; n++ {
		if n%10 != 9 {
			ids = append(ids, fmt.Sprintf("e%d", n))
		}
	}
	return ids
}

func putOrdersRoute(t *testing.T, base, name, hookURL, extra string) {
	t.Helper()
	body := `{"match":{"type":["order.created"]},"target":{"http":{"url":"` + hookURL + `"}},"delivery":{"max_inflight":1}` + extra + `}`
	if status, resp := do(t, "PUT", base+"/v1/routes/"+name, body); status != http.StatusCreated {
		t.Fatalf("creating route %s: %d %s", name, status, resp)
	}
}

func getReplay(t *testing.T, base, route, id string) bus.Replay {
	t.Helper()
	status, body := do(t, "GET", base+"/v1/routes/"+route+"/replays/"+id, "")
	var rp bus.Replay
	if err := json.Unmarshal([]byte(body), &rp); status != http.StatusOK || err != nil {
		t.Fatalf("GET replay %s: %d %s", id, status, body)
	}
	return rp
}

// checkDelivered fails unless the deliveries are exactly the events ids, in
// that order, each marked as replayed by replay.
func checkDelivered(t *testing.T, got []bustest.Delivery, ids []string, replay string) {
	t.Helper()
	if len(got) != len(ids) {
		t.Fatalf("%d deliveries, want %d", len(got), len(ids))
	}
	for i, d := range got {
		if id := d.Header.Get("Ce-Id"); id != ids[i] {
			t.Fatalf("delivery %d is event %s, want %s: a replay must deliver exactly the archived events from its start, in archive order", i, id, ids[i])
		}
		if mark := d.Header.Get("Ce-Replay"); mark != replay {
			t.Fatalf("event %s carries replay %q, want %q: a target must be able to tell a replayed event", ids[i], mark, replay)
		}
	}
}

// The case: 1,000 events archived; a route created afterwards
// replays from a time in the middle and gets exactly the later ones that
// match it, in order, each marked with the replay's id.
func TestRouteCreatedLaterReplaysFromATimeInTheMiddle(t *testing.T) {
	base := archivedBus(t)
	emitNumbered(t, base, 0, 500)
	middle := time.Now().UTC()
	emitNumbered(t, base, 500, 1000)

	hook := bustest.NewWebhook(t, nil)
	putOrdersRoute(t, base, "late", hook.URL, "")
	status, body := do(t, "POST", base+"/v1/routes/late/replays",
		`{"from":{"time":"`+middle.Format(time.RFC3339Nano)+`"},"rate":"10000/s"}`)
	var started bus.Replay
	if err := json.Unmarshal([]byte(body), &started); status != http.StatusCreated || err != nil || started.ID == "" {
		t.Fatalf("POST replays: %d %s, want 201 with the replay", status, body)
	}

	want := orderIDs(500, 1000)
	checkDelivered(t, hook.WaitFor(t, len(want)), want, started.ID)
	var rp bus.Replay
	testkit.Eventually(t, bustest.DeliveryTimeout, "the replay to finish", func() bool {
		rp = getReplay(t, base, "late", started.ID)
		return rp.State != bus.ReplayRunning
	})
	if rp.State != bus.ReplayDone || rp.Scanned != 500 || rp.Matched != int64(len(want)) || rp.Delivered != int64(len(want)) {
		t.Errorf("finished replay %+v: want done, 500 scanned, %d matched and delivered", rp, len(want))
	}
	if len(hook.Deliveries()) != len(want) {
		t.Errorf("%d deliveries after the replay finished, want %d", len(hook.Deliveries()), len(want))
	}
}

// A cancel stops a replay where it is: no event after the cancel is stored.
func TestCancelStopsAReplay(t *testing.T) {
	base := archivedBus(t)
	emitNumbered(t, base, 0, 1000)
	hook := bustest.NewWebhook(t, nil)
	putOrdersRoute(t, base, "slow", hook.URL, "")
	status, body := do(t, "POST", base+"/v1/routes/slow/replays", `{"from":{"sequence":1},"rate":"40/s"}`)
	var started bus.Replay
	if err := json.Unmarshal([]byte(body), &started); status != http.StatusCreated || err != nil {
		t.Fatalf("POST replays: %d %s", status, body)
	}
	hook.WaitFor(t, 5)

	status, body = do(t, "DELETE", base+"/v1/routes/slow/replays/"+started.ID, "")
	if status != http.StatusOK || !strings.Contains(body, `"state":"cancelled"`) {
		t.Fatalf("cancel: %d %s, want 200 and the replay cancelled", status, body)
	}
	// The cancel answers once the replay stopped, with its final count.
	var rp bus.Replay
	if err := json.Unmarshal([]byte(body), &rp); err != nil {
		t.Fatal(err)
	}
	hook.WaitFor(t, int(rp.Delivered))
	if rp.State != bus.ReplayCancelled || rp.Delivered >= 900 {
		t.Fatalf("after cancel: %+v, want cancelled with fewer than the 900 matching events stored", rp)
	}
	// At 40/s a replay still running would store 40 more within a second.
	if testkit.Poll(2*time.Second, 50*time.Millisecond, func() bool { return len(hook.Deliveries()) > int(rp.Delivered) }) {
		t.Fatalf("%d deliveries after the replay was cancelled at %d: cancel did not stop it", len(hook.Deliveries()), rp.Delivered)
	}
	checkDelivered(t, hook.Deliveries(), orderIDs(0, 1000)[:rp.Delivered], started.ID)
}

// A new route's start position: earliest takes what the archive holds and
// then new events, latest (the default) only new events.
func TestRouteStartsFromEarliestOrLatest(t *testing.T) {
	base := archivedBus(t)
	emitNumbered(t, base, 0, 200)

	early := bustest.NewWebhook(t, nil)
	putOrdersRoute(t, base, "from-earliest", early.URL, `,"start":"earliest"`)
	latest := bustest.NewWebhook(t, nil)
	putOrdersRoute(t, base, "from-latest", latest.URL, "")
	checkDelivered(t, early.WaitFor(t, 180), orderIDs(0, 200), "from-earliest.start")
	testkit.Eventually(t, bustest.DeliveryTimeout, "the start replay to finish", func() bool {
		return getReplay(t, base, "from-earliest", "from-earliest.start").State == bus.ReplayDone
	})

	emitNumbered(t, base, 200, 201)
	for name, hook := range map[string]*bustest.Webhook{"from-earliest": early, "from-latest": latest} {
		testkit.Eventually(t, bustest.DeliveryTimeout, name+" to get the new event", func() bool {
			got := hook.Deliveries()
			return len(got) > 0 && got[len(got)-1].Header.Get("Ce-Id") == "e200"
		})
		if got := hook.Deliveries(); got[len(got)-1].Header.Get("Ce-Replay") != "" {
			t.Errorf("route %s: a new event arrived marked as replayed", name)
		}
	}
	if n := len(latest.Deliveries()); n != 1 {
		t.Errorf("route starting at latest got %d events, want only the 1 emitted after it was created", n)
	}
	if n := len(early.Deliveries()); n != 181 {
		t.Errorf("route starting at earliest got %d events, want the 180 archived and the new one", n)
	}
}

// On a backend that keeps no archive, asking for one fails with what to do.
func TestReplayWithoutAnArchiveSaysWhichBackendCanHoldOne(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL // mem://
	hook := bustest.NewWebhook(t, nil)
	putOrdersRoute(t, base, "orders", hook.URL, "")
	status, body := do(t, "POST", base+"/v1/routes/orders/replays", `{"from":{"sequence":1}}`)
	if status != http.StatusConflict || !strings.Contains(body, "nats+embedded://") {
		t.Errorf("replay on mem://: %d %s, want 409 naming a backend that keeps an archive", status, body)
	}
	status, body = do(t, "PUT", base+"/v1/routes/early", `{"target":{"http":{"url":"`+hook.URL+`"}},"start":"earliest"}`)
	if status != http.StatusBadRequest || !strings.Contains(body, "start") {
		t.Errorf("route starting at earliest on mem://: %d %s, want 400 naming start", status, body)
	}
	status, body = do(t, "POST", base+"/v1/routes/orders/replays", `{"from":{}}`)
	if status != http.StatusBadRequest || !strings.Contains(body, "from") {
		t.Errorf("replay without a start: %d %s, want 400 naming from", status, body)
	}
}

// Starting and cancelling a replay need manage on the route's bus, as
// changing the route does; following replays needs read.
func TestReplaysNeedManageToStartAndReadToFollow(t *testing.T) {
	s := startSecuredBus(t) // shop: manage [admins], read [admins, support]
	start := `{"from":{"sequence":1}}`
	cases := []struct {
		name, key, method, path, body string
		want                          int
	}{
		{"read may not start", "support", "POST", "/v1/routes/orders/replays", start, http.StatusForbidden},
		{"read may not cancel", "support", "DELETE", "/v1/routes/orders/replays/some-id", "", http.StatusForbidden},
		{"emit may not follow", "shop-web", "GET", "/v1/routes/orders/replays", "", http.StatusForbidden},
		{"emit may not read one", "shop-web", "GET", "/v1/routes/orders/replays/some-id", "", http.StatusForbidden},
		// Past the ACL: the bus's mem:// backend keeps no archive (409), the
		// replay does not exist (404), the list is empty (200).
		{"manage may start", "ops", "POST", "/v1/routes/orders/replays", start, http.StatusConflict},
		{"manage may cancel", "ops", "DELETE", "/v1/routes/orders/replays/some-id", "", http.StatusNotFound},
		{"read may follow", "support", "GET", "/v1/routes/orders/replays", "", http.StatusOK},
		{"read may read one", "support", "GET", "/v1/routes/orders/replays/some-id", "", http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := s.do(t, tc.method, tc.path, s.keys[tc.key], map[string]string{"Content-Type": "application/json"}, tc.body)
			if status != tc.want {
				t.Errorf("%s %s as %s: %d %s, want %d", tc.method, tc.path, tc.key, status, body, tc.want)
			}
		})
	}
}
