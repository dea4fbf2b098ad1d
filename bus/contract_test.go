package bus_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/bus/delivery"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// Each test here proves one sentence of the delivery contract (the docs of
// packages bus, bus/httpapi and bus/delivery)
// on the in-memory backend.

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func stats(t *testing.T, base, route string) bus.RouteStats {
	t.Helper()
	var st bus.RouteStats
	getJSON(t, base+"/v1/routes/"+route+"/stats", &st)
	return st
}

type deadLetterPage struct {
	Events []map[string]any `json:"events"`
	Total  int              `json:"total"`
}

// A target's answer decides the event's fate: 2xx acks, 429/503 and 5xx
// retry, other 4xx dead-letter at once, and Eventbus-Verdict overrides all.
func TestVerdicts(t *testing.T) {
	cases := []struct {
		name         string
		status       int
		verdict      string
		clientErrors string
		wantCalls    int // with max_attempts 3
		wantDead     int
		wantDropped  int
	}{
		{"2xx acks", 204, "", "", 1, 0, 0},
		{"5xx retries until attempts run out", 500, "", "", 3, 1, 0},
		{"503 retries", 503, "", "", 3, 1, 0},
		{"429 retries", 429, "", "", 3, 1, 0},
		{"other 4xx dead-letters at once", 422, "", "", 1, 1, 0},
		{"4xx retries when client_errors is retry", 400, "", router.ClientErrorsRetry, 3, 1, 0},
		{"verdict ack on a 500", 500, "ack", "", 1, 0, 0},
		{"verdict drop", 200, "drop", "", 1, 0, 1},
		{"verdict dead-letter on a 200", 200, "dead-letter", "", 1, 1, 0},
		{"verdict retry on a 200", 200, "retry", "", 3, 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			hook := newHook(t, func(w http.ResponseWriter, _ *http.Request) {
				mu.Lock()
				calls++
				mu.Unlock()
				if tc.verdict != "" {
					w.Header().Set(delivery.VerdictHeader, tc.verdict)
				}
				w.WriteHeader(tc.status)
			})
			r := fastRetries(route("r", hook, ""), 3)
			r.Delivery.ClientErrors = tc.clientErrors
			base := bustest.Start(t, bus.Config{Routes: []router.Route{r}}).URL
			bustest.Emit(t, base, "v1", nil)
			testkit.Eventually(t, 10*time.Second, "the event to be finished", func() bool {
				st := stats(t, base, "r")
				return st.Delivered+st.DeadLettered+st.Dropped == 1 && st.Depth == 0
			})
			st := stats(t, base, "r")
			mu.Lock()
			defer mu.Unlock()
			if calls != tc.wantCalls || int(st.DeadLettered) != tc.wantDead || int(st.Dropped) != tc.wantDropped {
				t.Fatalf("calls %d dead-lettered %d dropped %d; want %d, %d, %d",
					calls, st.DeadLettered, st.Dropped, tc.wantCalls, tc.wantDead, tc.wantDropped)
			}
		})
	}
}

// Retry-After from the target sets the earliest next attempt.
func TestRetryAfterIsHonoured(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	hook := newHook(t, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		n := len(times)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	base := bustest.Start(t, bus.Config{Routes: []router.Route{fastRetries(route("r", hook, ""), 3)}}).URL
	bustest.Emit(t, base, "ra", nil)
	testkit.Eventually(t, 10*time.Second, "the second attempt", func() bool { return stats(t, base, "r").Delivered == 1 })
	mu.Lock()
	defer mu.Unlock()
	if gap := times[1].Sub(times[0]); gap < 950*time.Millisecond {
		t.Fatalf("second attempt %v after the first; Retry-After asked for 1s", gap)
	}
}

// An exhausted event is kept with why, how often and when; redrive gives it
// another round of attempts.
func TestDeadLettersCarryTheReasonAndCanBeRedriven(t *testing.T) {
	var mu sync.Mutex
	healthy := false
	delivered := make(chan string, 10)
	hook := newHook(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ok := healthy
		mu.Unlock()
		if !ok {
			http.Error(w, "database down", http.StatusInternalServerError)
			return
		}
		delivered <- r.Header.Get("Ce-Id")
	})
	base := bustest.Start(t, bus.Config{Routes: []router.Route{fastRetries(route("r", hook, ""), 2)}}).URL
	for _, id := range []string{"d1", "d2", "d3"} {
		bustest.Emit(t, base, id, nil)
	}
	testkit.Eventually(t, 10*time.Second, "three dead letters", func() bool { return stats(t, base, "r").DeadLetters == 3 })

	var page deadLetterPage
	getJSON(t, base+"/v1/routes/r/dlq?limit=2&offset=1", &page)
	if page.Total != 3 || len(page.Events) != 2 {
		t.Fatalf("page: total %d, %d events; want total 3 and 2 events", page.Total, len(page.Events))
	}
	dl := page.Events[0]
	for _, key := range []string{"deadletterreason", "deadletterroute", "deadletterstatus", "deliveryattempts", "firstattempttime", "lastattempttime"} {
		if dl[key] == nil {
			t.Errorf("dead letter lacks %s: %v", key, dl)
		}
	}
	if !strings.Contains(fmt.Sprint(dl["deadletterreason"]), "database down") || fmt.Sprint(dl["deliveryattempts"]) != "2" {
		t.Errorf("dead letter reason %v attempts %v; want the target's answer and 2", dl["deadletterreason"], dl["deliveryattempts"])
	}

	mu.Lock()
	healthy = true
	mu.Unlock()
	status, body := do(t, "POST", base+"/v1/routes/r/dlq/redrive", `{"ids":["d2"]}`)
	if status != 200 || !strings.Contains(body, `"redriven":1`) {
		t.Fatalf("redrive d2: %d %s", status, body)
	}
	if id := <-delivered; id != "d2" {
		t.Fatalf("redriven %s, want d2", id)
	}
	status, body = do(t, "POST", base+"/v1/routes/r/dlq/redrive", ``)
	if status != 200 || !strings.Contains(body, `"redriven":2`) {
		t.Fatalf("redrive all: %d %s", status, body)
	}
	got := map[string]bool{<-delivered: true, <-delivered: true}
	if !got["d1"] || !got["d3"] {
		t.Errorf("redriven %v, want d1 and d3", got)
	}
	testkit.Eventually(t, 10*time.Second, "an empty dead-letter channel", func() bool { return stats(t, base, "r").DeadLetters == 0 })
}

// A producer's retry of an event already stored is answered as the first
// time and not stored again, also inside one batch.
func TestRepeatedEventsAreStoredOnce(t *testing.T) {
	hook := bustest.NewWebhook(t, nil)
	r := route("r", hook.URL, "")
	base := bustest.Start(t, bus.Config{Routes: []router.Route{r}}).URL
	first := bustest.Emit(t, base, "same", nil)
	again := bustest.Emit(t, base, "same", nil)
	if first != again {
		t.Errorf("repeat answered %s, first %s; want the same answer", again, first)
	}
	batch := `[{"specversion":"1.0","id":"b","source":"/src","type":"t"},{"specversion":"1.0","id":"b","source":"/src","type":"t"},
		{"specversion":"1.0","id":"b","source":"/other","type":"t"}]`
	resp, body := post(t, base+"/events", "application/cloudevents-batch+json", nil, batch)
	if resp.StatusCode != 202 || strings.Count(body, `"routes":["r"]`) != 3 {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}
	testkit.Eventually(t, 10*time.Second, "deliveries", func() bool { return stats(t, base, "r").Delivered == 3 })
	if n := stats(t, base, "r").Accepted; n != 3 {
		t.Errorf("stored %d events; want 3: (/src,same), (/src,b), (/other,b)", n)
	}
	if len(hook.Deliveries()) != 3 {
		t.Errorf("%d deliveries, want 3", len(hook.Deliveries()))
	}
}

// Events with the same ordering key arrive one at a time, in order, even
// while one key's target fails and retries; other keys keep flowing.
func TestOrderingKeyHoldsOrderUnderFailure(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]int{}
	failedOnce := map[string]bool{}
	inflight := map[string]bool{}
	var overlap bool
	hook := newHook(t, func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Ce-Subject")
		var n int
		fmt.Sscan(r.Header.Get("Ce-Seq"), &n)
		mu.Lock()
		if inflight[key] {
			overlap = true
		}
		inflight[key] = true
		fail := key == "k0" && n%10 == 3 && !failedOnce[fmt.Sprint(n)]
		if fail {
			failedOnce[fmt.Sprint(n)] = true
		} else {
			seen[key] = append(seen[key], n)
		}
		mu.Unlock()
		time.Sleep(time.Millisecond) // let a second delivery of the same key overlap, if it could
		mu.Lock()
		inflight[key] = false
		mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	r := fastRetries(route("ordered", hook, ""), 10)
	r.Delivery.OrderingKey = "subject"
	r.Delivery.MaxInflight = 8
	base := bustest.Start(t, bus.Config{Routes: []router.Route{r}}).URL
	const perKey, keys = 40, 5
	for i := range perKey {
		for k := range keys {
			bustest.Emit(t, base, fmt.Sprintf("k%d-%d", k, i), map[string]string{"ce-subject": fmt.Sprintf("k%d", k), "ce-seq": fmt.Sprint(i)})
		}
	}
	testkit.Eventually(t, 10*time.Second, "all deliveries", func() bool { return stats(t, base, "ordered").Delivered == perKey*keys })
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Error("two events of one key were delivered at once")
	}
	for k := range keys {
		got := seen[fmt.Sprintf("k%d", k)]
		for i, n := range got {
			if n != i {
				t.Fatalf("key k%d delivered out of order: %v", k, got)
			}
		}
	}
}

// A full route follows its overflow policy, and the 202 says what happened.
func TestOverflowPolicies(t *testing.T) {
	paused := func(name string, depth int, overflow string) router.Route {
		r := route(name, "http://127.0.0.1:9/", "")
		r.Paused = true
		r.Delivery.MaxDepth = depth
		r.Delivery.Overflow = overflow
		return r
	}
	t.Run("reject answers 429", func(t *testing.T) {
		base := bustest.Start(t, bus.Config{Routes: []router.Route{paused("r", 1, "reject")}}).URL
		bustest.Emit(t, base, "1", nil)
		resp, body := post(t, base+"/events", "", binaryHeaders(map[string]string{"ce-id": "2"}), `{}`)
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "max_depth 1") {
			t.Fatalf("%d %s; want 429 with Retry-After naming max_depth", resp.StatusCode, body)
		}
	})
	t.Run("drop-oldest keeps the newest", func(t *testing.T) {
		base := bustest.Start(t, bus.Config{Routes: []router.Route{paused("r", 2, "drop-oldest")}}).URL
		bustest.Emit(t, base, "1", nil)
		bustest.Emit(t, base, "2", nil)
		if body := bustest.Emit(t, base, "3", nil); !strings.Contains(body, `"action":"drop-oldest"`) {
			t.Fatalf("answer %s does not say the oldest was dropped", body)
		}
		st := stats(t, base, "r")
		if st.Depth != 2 || st.Dropped != 1 {
			t.Fatalf("depth %d dropped %d; want 2 and 1", st.Depth, st.Dropped)
		}
	})
	t.Run("block waits for room", func(t *testing.T) {
		hookURL := bustest.NewWebhook(t, nil).URL
		r := route("r", hookURL, "")
		r.Delivery.MaxDepth = 1
		r.Delivery.Overflow = router.OverflowBlock
		r.Paused = true
		srv := bustest.Start(t, bus.Config{})
		base, b := srv.URL, srv.Bus
		putRoute(t, b, r)
		bustest.Emit(t, base, "1", nil)
		done := make(chan string, 1)
		go func() {
			_, body := post(t, base+"/events", "", binaryHeaders(map[string]string{"ce-id": "2"}), `{}`)
			done <- body
		}()
		testkit.Eventually(t, 10*time.Second, "the second emit to block", func() bool { return stats(t, base, "r").Blocked == 1 })
		r.Paused = false // resuming delivers event 1, which makes room for 2
		putRoute(t, b, r)
		if body := <-done; !strings.Contains(body, `"action":"block"`) {
			t.Fatalf("blocked emit answered %s", body)
		}
	})
	t.Run("block gives up after block_timeout", func(t *testing.T) {
		r := paused("r", 1, router.OverflowBlock)
		r.Delivery.BlockTimeout = spec.Duration(50 * time.Millisecond)
		base := bustest.Start(t, bus.Config{Routes: []router.Route{r}}).URL
		bustest.Emit(t, base, "1", nil)
		resp, body := post(t, base+"/events", "", binaryHeaders(map[string]string{"ce-id": "2"}), `{}`)
		if resp.StatusCode != 429 {
			t.Fatalf("%d %s; want 429 once block_timeout passed", resp.StatusCode, body)
		}
	})
}

// The flash sale: past 100 queued orders, the rest go to sold-out; none is
// lost and exactly 100 queue, however the producers race.
func TestFlashSaleDivertsPastTheCap(t *testing.T) {
	soldOut := route("sold-out", "http://127.0.0.1:9/", `{"type":["order.placed"]}`)
	soldOut.Paused = true
	sale := route("flash", "http://127.0.0.1:9/", `{"type":["order.placed"]}`)
	sale.Paused = true
	sale.Delivery.MaxDepth = 100
	sale.Delivery.Overflow = "divert:sold-out"
	// sold-out matches nothing itself; the sale's overflow lands there.
	soldOut.Match = []byte(`{"type":["never"]}`)
	// Listed before the route it diverts to: the config's order must not matter.
	base := bustest.Start(t, bus.Config{Routes: []router.Route{sale, soldOut}}).URL

	const orders = 1000
	var wg sync.WaitGroup
	var mu sync.Mutex
	diverted, queued := 0, 0
	for i := range orders {
		wg.Go(func() {
			h := binaryHeaders(map[string]string{"ce-id": fmt.Sprint(i), "ce-type": "order.placed"})
			resp, body := post(t, base+"/events", "application/json", h, `{}`)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case resp.StatusCode != 202:
				t.Errorf("order %d: %d %s", i, resp.StatusCode, body)
			case strings.Contains(body, `"to":"sold-out"`):
				diverted++
				if !strings.Contains(body, `"routes":["sold-out"]`) {
					t.Errorf("order %d was diverted, but its result does not name the route that stored it: %s", i, body)
				}
			default:
				queued++
			}
		})
	}
	wg.Wait()
	if queued != 100 || diverted != orders-100 {
		t.Fatalf("queued %d diverted %d; want exactly 100 and %d", queued, diverted, orders-100)
	}
	if sale, sold := stats(t, base, "flash"), stats(t, base, "sold-out"); sale.Depth != 100 || sold.Depth != orders-100 || sale.Diverted != orders-100 {
		t.Fatalf("flash depth %d diverted %d, sold-out depth %d; want 100, %d, %d", sale.Depth, sale.Diverted, sold.Depth, orders-100, orders-100)
	}
}

// The rate cap holds deliveries to the configured pace.
func TestRateLimitPacesDeliveries(t *testing.T) {
	hookURL := bustest.NewWebhook(t, nil).URL
	r := route("r", hookURL, "")
	r.Delivery.Rate = "40/s"
	r.Paused = true
	srv := bustest.Start(t, bus.Config{})
	base, b := srv.URL, srv.Bus
	putRoute(t, b, r)
	for i := range 240 {
		bustest.Emit(t, base, fmt.Sprint(i), nil)
	}
	r.Paused = false
	start := time.Now()
	putRoute(t, b, r)
	testkit.Eventually(t, 10*time.Second, "the first 200 deliveries after the first", func() bool { return stats(t, base, "r").Delivered >= 201 })
	elapsed := time.Since(start)
	// 200 intervals at 40/s take 5s: never less, or the cap does not hold.
	// A loaded machine may take longer, but not twice as long: that would be
	// a limiter waiting twice per event.
	if elapsed < 4500*time.Millisecond {
		t.Fatalf("201 deliveries took %v; at 40/s they take at least 5s (-10%%): the rate cap did not hold", elapsed)
	}
	if elapsed > 10*time.Second {
		t.Fatalf("201 deliveries took %v; at 40/s they take 5s, not twice that: the limiter paces too slowly", elapsed)
	}
}

// Delayed events wait: deliverafter on the event, or the route's delay; on
// the in-memory backend and on serve's default, the embedded NATS store,
// where they wait in the stream.
func TestDelayedDelivery(t *testing.T) {
	t.Run("mem", func(t *testing.T) {
		testDelayedDelivery(t, func() string { return "mem://" })
	})
	t.Run("nats+embedded", func(t *testing.T) {
		testDelayedDelivery(t, func() string { return "nats+embedded://?dir=" + url.QueryEscape(t.TempDir()) })
	})
}

// testDelayedDelivery runs each bus on a backend newBackend returns.
func testDelayedDelivery(t *testing.T, newBackend func() string) {
	hook := bustest.NewWebhook(t, nil)
	r := route("r", hook.URL, "")
	base := bustest.Start(t, bus.Config{DefaultBackend: newBackend(), Routes: []router.Route{r}}).URL
	t.Run("deliverafter duration", func(t *testing.T) {
		start := time.Now()
		bustest.Emit(t, base, "later", map[string]string{"ce-deliverafter": "300ms"})
		bustest.Emit(t, base, "now", nil)
		if first := hook.Next(t).Header.Get("Ce-Id"); first != "now" {
			t.Fatalf("delivered %s first, want now", first)
		}
		hook.Next(t)
		if time.Since(start) < 300*time.Millisecond {
			t.Fatalf("delayed event delivered after %v, want ≥300ms", time.Since(start))
		}
	})
	t.Run("deliverafter time", func(t *testing.T) {
		at := time.Now().Add(300 * time.Millisecond)
		bustest.Emit(t, base, "at", map[string]string{"ce-deliverafter": at.UTC().Format(time.RFC3339Nano)})
		hook.Next(t)
		if time.Now().Before(at) {
			t.Fatalf("delivered before its deliverafter time")
		}
	})
	t.Run("route delay", func(t *testing.T) {
		hook := bustest.NewWebhook(t, nil)
		delayed := route("delayed", hook.URL, "")
		delayed.Delivery.Delay = spec.Duration(300 * time.Millisecond)
		base := bustest.Start(t, bus.Config{DefaultBackend: newBackend(), Routes: []router.Route{delayed}}).URL
		start := time.Now()
		bustest.Emit(t, base, "d", nil)
		hook.Next(t)
		if time.Since(start) < 300*time.Millisecond {
			t.Fatalf("delivered after %v; the route delays by 300ms", time.Since(start))
		}
	})
	t.Run("bad deliverafter is refused", func(t *testing.T) {
		resp, body := post(t, base+"/events", "", binaryHeaders(map[string]string{"ce-id": "bad", "ce-deliverafter": "someday"}), `{}`)
		if resp.StatusCode != 400 || !strings.Contains(body, "deliverafter") {
			t.Fatalf("%d %s; want 400 naming deliverafter", resp.StatusCode, body)
		}
	})
}
