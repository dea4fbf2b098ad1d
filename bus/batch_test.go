package bus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/bustest"
	"github.com/eventbus-go/eventbus/bus/delivery"
	"github.com/eventbus-go/eventbus/internal/testkit"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// sdkBatch is one batch request as a receiver written with the CloudEvents
// Go SDK decoded it.
type sdkBatch struct {
	header http.Header
	body   []byte
	events []event.Event
}

// batchReceiver is an HTTP target that reads batches with the CloudEvents
// Go SDK (cehttp.NewEventsFromHTTPRequest), records every batch it could
// decode, and answers what answer says: a status, and per-event results
// when results is not nil.
type batchReceiver struct {
	url    string
	answer func(events []event.Event) (status int, results []delivery.BatchResult)

	mu      sync.Mutex
	batches []sdkBatch
	errs    []string
	acked   map[string]int // ids answered 2xx, as a batch or in results
	seen    map[string]int // ids received
}

func newBatchReceiver(t *testing.T, answer func(events []event.Event) (int, []delivery.BatchResult)) *batchReceiver {
	br := &batchReceiver{answer: answer, acked: map[string]int{}, seen: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(br.serve))
	t.Cleanup(srv.Close)
	br.url = srv.URL
	return br
}

// newResultsReceiver is a batchReceiver that answers every batch 200 with
// a result per event, whose status is status(e). Batches are answered one
// at a time.
func newResultsReceiver(t *testing.T, status func(e event.Event) int) *batchReceiver {
	return newBatchReceiver(t, func(events []event.Event) (int, []delivery.BatchResult) {
		results := make([]delivery.BatchResult, len(events))
		for i, e := range events {
			results[i] = delivery.BatchResult{ID: e.ID(), Source: e.Source(), Status: status(e)}
		}
		return http.StatusOK, results
	})
}

func (br *batchReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	events, err := cehttp.NewEventsFromHTTPRequest(r)
	br.mu.Lock()
	defer br.mu.Unlock()
	if err != nil {
		br.errs = append(br.errs, fmt.Sprintf("Content-Type %q: %v", r.Header.Get("Content-Type"), err))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	br.batches = append(br.batches, sdkBatch{header: r.Header.Clone(), body: body, events: events})
	for _, e := range events {
		br.seen[e.ID()]++
	}
	status, results := http.StatusOK, []delivery.BatchResult(nil)
	if br.answer != nil {
		status, results = br.answer(events)
	}
	if results == nil {
		if status < 300 {
			for _, e := range events {
				br.acked[e.ID()]++
			}
		}
		w.WriteHeader(status)
		return
	}
	for _, res := range results {
		if res.Status < 300 {
			br.acked[res.ID]++
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(delivery.BatchResults{Results: results})
}

// waitAcked waits until every id was answered 2xx and returns the batches
// received so far.
func (br *batchReceiver) waitAcked(t *testing.T, ids []string) []sdkBatch {
	t.Helper()
	testkit.EventuallyNoError(t, 60*time.Second, func() error {
		br.mu.Lock()
		defer br.mu.Unlock()
		if len(br.errs) > 0 {
			return fmt.Errorf("the CloudEvents SDK could not read a batch: %s", br.errs[0])
		}
		for _, id := range ids {
			if br.acked[id] == 0 {
				return fmt.Errorf("event %s was accepted by the bus and never delivered", id)
			}
		}
		return nil
	})
	br.mu.Lock()
	defer br.mu.Unlock()
	return slices.Clone(br.batches)
}

func (br *batchReceiver) counts(id string) (seen, acked int) {
	br.mu.Lock()
	defer br.mu.Unlock()
	return br.seen[id], br.acked[id]
}

// emitBatch posts the events to the bus in one batch-mode request, in
// order, each {"id":id,"source":"/batch","type":"t","subject":subject(id),"data":{"id":id}},
// and fails unless every one was accepted.
func emitBatch(t *testing.T, base string, ids []string, subject func(id string) string) {
	t.Helper()
	var events []map[string]any
	for _, id := range ids {
		e := map[string]any{"specversion": "1.0", "id": id, "source": "/batch", "type": "t", "datacontenttype": "application/json", "data": map[string]string{"id": id}}
		if subject != nil {
			e["subject"] = subject(id)
		}
		events = append(events, e)
	}
	body, _ := json.Marshal(events)
	resp, answer := post(t, base+"/events", "application/cloudevents-batch+json", nil, string(body))
	if resp.StatusCode != http.StatusAccepted || strings.Contains(answer, `"error"`) {
		t.Fatalf("emitting a batch of %d: %d %s; want every event accepted", len(ids), resp.StatusCode, answer)
	}
}

// deliverBatched emits ids together to a bus whose one route batches as b
// to a receiver that takes everything, and returns the batches it got.
func deliverBatched(t *testing.T, b router.Batch, ids []string) []sdkBatch {
	t.Helper()
	rcv := newBatchReceiver(t, nil)
	base := bustest.Start(t, bus.Config{Routes: []router.Route{batchRoute("batched", "", rcv.url, b)}}).URL
	emitBatch(t, base, ids, nil)
	return rcv.waitAcked(t, ids)
}

func batchRoute(name, backend, url string, b router.Batch) router.Route {
	return router.Route{
		Name:    name,
		Backend: backend,
		Target:  router.Target{HTTP: &router.HTTPTarget{URL: url, Signing: &router.Signing{Secret: givenSecret}}},
		Delivery: router.Delivery{
			MaxAttempts: 10,
			Backoff:     router.Backoff{Initial: spec.Duration(20 * time.Millisecond), Max: spec.Duration(100 * time.Millisecond)},
			Batch:       &b,
		},
	}
}

// A route with delivery.batch sends its events several to a request, as
// the CloudEvents HTTP binding's batched mode, which the CloudEvents Go SDK
// reads back event for event; each request is signed as a whole.
func TestBatchDeliveryIsReadByTheCloudEventsSDK(t *testing.T) {
	batches := deliverBatched(t, router.Batch{MaxEvents: 5, MaxWait: spec.Duration(2 * time.Second)}, eventIDs("sdk", 23))
	largest := 0
	for _, b := range batches {
		if ct := b.header.Get("Content-Type"); ct != delivery.BatchContentType {
			t.Errorf("a batch went as %q; the CloudEvents HTTP binding names batches %q", ct, delivery.BatchContentType)
		}
		if len(b.events) > 5 {
			t.Errorf("a batch held %d events; max_events is 5", len(b.events))
		}
		largest = max(largest, len(b.events))
		if err := verifies(bustest.Delivery{Header: b.header, Body: b.body}, givenSecret); err != nil {
			t.Errorf("a batch request must verify with the route's secret over its whole body: %v", err)
		}
		for _, e := range b.events {
			var data struct{ ID string }
			if err := e.DataAs(&data); err != nil || data.ID != e.ID() {
				t.Errorf("event %s arrived with data %s (%v); want its own data {\"id\":%q}", e.ID(), e.Data(), err, e.ID())
			}
		}
	}
	if largest < 2 {
		t.Errorf("23 events emitted together went in %d requests of at most %d: batch delivery never batched", len(batches), largest)
	}
}

// A target answering per event settles each event on its own: the ones it
// took are delivered once, the ones it asked to retry come again alone, and
// the ones it refused are dead-lettered with its status. Run on the
// in-memory backend, RabbitMQ, Kafka and SQS.
func TestBatchPartialSuccessSettlesEachEventOnItsOwn(t *testing.T) {
	for _, backend := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"memory", func(*testing.T) string { return "mem://" }},
		{"rabbitmq", rabbitBackend},
		{"kafka", func(t *testing.T) string { return kafkaBackend(t, "") }}, // cannot delay: retries are held
		{"sqs", func(t *testing.T) string { return sqsBackend(t, "") }},     // receives 10 at most
	} {
		t.Run(backend.name, func(t *testing.T) {
			url := backend.url(t)
			failed := map[string]bool{}
			rcv := newResultsReceiver(t, func(e event.Event) int {
				switch {
				case strings.HasPrefix(e.ID(), "flaky") && !failed[e.ID()]:
					failed[e.ID()] = true
					return http.StatusServiceUnavailable
				case strings.HasPrefix(e.ID(), "bad"):
					return http.StatusUnprocessableEntity
				}
				return http.StatusOK
			})
			r := batchRoute(fmt.Sprintf("partial-%d", time.Now().UnixNano()), url, rcv.url, router.Batch{MaxEvents: 10, MaxWait: spec.Duration(200 * time.Millisecond)})
			if backend.name == "rabbitmq" {
				deleteRouteAtEnd(t, r)
			}
			srv := startRabbitBus(t, bus.Config{Routes: []router.Route{r}})
			good, flaky, bad := eventIDs("good", 6), eventIDs("flaky", 6), eventIDs("bad", 3)
			emitBatch(t, srv.URL, slices.Concat(good, flaky, bad), nil)

			rcv.waitAcked(t, slices.Concat(good, flaky))
			ctx := context.Background()
			var dead []*event.Event
			testkit.EventuallyNoError(t, 30*time.Second, func() error {
				var err error
				if dead, _, err = srv.Bus.DeadLetters(ctx, r.Name, 0, 100); err != nil {
					return err
				}
				if len(dead) < len(bad) {
					return fmt.Errorf("%d of %d refused events on the dead-letter channel", len(dead), len(bad))
				}
				return nil
			})
			var deadIDs []string
			for _, e := range dead {
				deadIDs = append(deadIDs, e.ID())
				if st := e.Extensions()["deadletterstatus"]; fmt.Sprint(st) != "422" {
					t.Errorf("dead letter %s has deadletterstatus %v; want the 422 its result gave", e.ID(), st)
				}
			}
			slices.Sort(deadIDs)
			if !slices.Equal(deadIDs, bad) {
				t.Errorf("dead letters %v; want exactly the refused %v", deadIDs, bad)
			}
			for _, id := range good {
				if seen, _ := rcv.counts(id); seen != 1 {
					t.Errorf("event %s, taken at its first attempt, was sent %d times: a retry of its batch-mates must not resend it", id, seen)
				}
			}
			for _, id := range flaky {
				if seen, acked := rcv.counts(id); seen < 2 || acked != 1 {
					t.Errorf("event %s, asked to retry once, was sent %d times and taken %d; want sent again and taken once", id, seen, acked)
				}
			}
			// The receiver answered every event; the bus counts each once
			// it has read the answer and settled the event.
			testkit.EventuallyNoError(t, 30*time.Second, func() error {
				st, err := srv.Bus.Stats(ctx, r.Name)
				if err != nil {
					return err
				}
				if st.Delivered != int64(len(good)+len(flaky)) || st.DeadLettered != int64(len(bad)) || st.Retried < int64(len(flaky)) {
					return fmt.Errorf("stats count %d delivered, %d dead-lettered, %d retried; want %d, %d and at least %d: stats count events, not requests",
						st.Delivered, st.DeadLettered, st.Retried, len(good)+len(flaky), len(bad), len(flaky))
				}
				return nil
			})
		})
	}
}

// Without results the answer's status is the verdict on every event of the
// batch: a 503 retries them all, and none is lost.
func TestBatchStatusIsTheVerdictOnEveryEventWithoutResults(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	rcv := newBatchReceiver(t, func([]event.Event) (int, []delivery.BatchResult) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusOK, nil
	})
	base := bustest.Start(t, bus.Config{Routes: []router.Route{
		batchRoute("whole", "", rcv.url, router.Batch{MaxEvents: 8, MaxWait: spec.Duration(time.Second)}),
	}}).URL
	ids := eventIDs("whole", 8)
	emitBatch(t, base, ids, nil)
	batches := rcv.waitAcked(t, ids)
	first := batches[0].events
	for _, e := range first {
		if seen, acked := rcv.counts(e.ID()); seen < 2 || acked != 1 {
			t.Errorf("event %s was in the batch answered 503, then sent %d times and taken %d; want it retried and taken once", e.ID(), seen, acked)
		}
	}
}

// On an ordered route a batch never holds two events of one key, and each
// key's events arrive in the order they were accepted, even when one of
// them has to be retried.
func TestBatchesKeepTheOrderOfEachKey(t *testing.T) {
	retried := false
	rcv := newResultsReceiver(t, func(e event.Event) int {
		if e.ID() == "b-03" && !retried {
			retried = true
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	r := batchRoute("ordered", "", rcv.url, router.Batch{MaxEvents: 10, MaxWait: spec.Duration(50 * time.Millisecond)})
	r.Delivery.OrderingKey = "subject"
	base := bustest.Start(t, bus.Config{Routes: []router.Route{r}}).URL
	keys := []string{"a", "b", "c"}
	var ids []string
	for i := range 8 {
		for _, k := range keys {
			ids = append(ids, fmt.Sprintf("%s-%02d", k, i))
		}
	}
	for _, id := range ids { // one by one: the events of one batch request are stored concurrently
		emitBatch(t, base, []string{id}, func(id string) string { return id[:1] })
	}

	batches := rcv.waitAcked(t, ids)
	sent := map[string][]string{} // per key, the ids in the order they were sent
	for _, b := range batches {
		inBatch := map[string]bool{}
		for _, e := range b.events {
			k := e.Subject()
			if inBatch[k] {
				t.Errorf("a batch held two events of key %s: the second could overtake the first on a retry", k)
			}
			inBatch[k] = true
			if s := sent[k]; len(s) == 0 || s[len(s)-1] != e.ID() { // a retry right after its failure keeps the order
				sent[k] = append(s, e.ID())
			}
		}
	}
	for _, k := range keys {
		if !slices.IsSorted(sent[k]) || len(sent[k]) != 8 {
			t.Errorf("key %s was sent in the order %v; want %s-00 to %s-07, each once, in order", k, sent[k], k, k)
		}
	}
}

// Batch settings the bus cannot honour are refused on save, naming the
// field and what to do; good ones come back under the same keys.
func TestBatchSettingsAreCheckedOnSave(t *testing.T) {
	base := bustest.Start(t, bus.Config{}).URL
	target := `"target":{"http":{"url":"http://127.0.0.1:9/x"}}`
	cases := []struct{ name, body, path, says string }{
		{"too many events", `{` + target + `,"delivery":{"batch":{"max_events":1001}}}`, `delivery.batch.max_events`, "between 1 and 1000"},
		{"negative events", `{` + target + `,"delivery":{"batch":{"max_events":-1}}}`, `delivery.batch.max_events`, "between 1 and 1000"},
		{"tiny body", `{` + target + `,"delivery":{"batch":{"max_bytes":10}}}`, `delivery.batch.max_bytes`, "between 1024"},
		{"long wait", `{` + target + `,"delivery":{"batch":{"max_wait":"1m"}}}`, `delivery.batch.max_wait`, "between 0 and 10s"},
		{"bad duration", `{` + target + `,"delivery":{"batch":{"max_wait":"soon"}}}`, `soon`, ""},
		{"unknown key", `{` + target + `,"delivery":{"batch":{"max_event":5}}}`, `max_event`, ""},
		{"batch larger than inflight", `{` + target + `,"delivery":{"max_inflight":4,"batch":{"max_events":10}}}`, `delivery.batch.max_events`, "raise max_inflight to at least 10"},
		{"topic target", `{"target":{"topic":{"url":"mem://","name":"out"}},"delivery":{"batch":{}}}`, `delivery.batch`, "only to HTTP targets"},
		{"plugin target", `{"target":{"plugin":{"name":"p"}},"delivery":{"batch":{}}}`, `delivery.batch`, "plugin.ServeBatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, "PUT", base+"/v1/routes/r1", tc.body)
			if status != 400 || !strings.Contains(body, tc.path) || !strings.Contains(body, tc.says) {
				t.Fatalf("status %d body %s; want 400 naming %s and saying %q", status, body, tc.path, tc.says)
			}
		})
	}
	status, body := do(t, "PUT", base+"/v1/routes/r1", `{`+target+`,"delivery":{"batch":{"max_events":50,"max_bytes":65536,"max_wait":"25ms"}}}`)
	if status != 201 || !strings.Contains(body, `"batch":{"max_events":50,"max_bytes":65536,"max_wait":"25ms"}`) {
		t.Fatalf("a good batch setting: %d %s; want 201 with it under the keys it was given", status, body)
	}
}

// A config file turns batch delivery on with the keys of the API.
func TestConfigFileRouteTakesABatch(t *testing.T) {
	path := t.TempDir() + "/eventbus.yaml"
	yaml := `
routes:
  - name: bulk
    target: {http: {url: "http://127.0.0.1:9/bulk"}}
    delivery:
      batch: {max_events: 25, max_bytes: 65536, max_wait: 20ms}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := bus.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := router.Batch{MaxEvents: 25, MaxBytes: 65536, MaxWait: spec.Duration(20 * time.Millisecond)}
	if got := cfg.Routes[0].Delivery.Batch; got == nil || *got != want {
		t.Fatalf("delivery.batch read from the config file as %+v; want %+v", got, want)
	}
}

// A batch closes before one more event would take its body past max_bytes.
func TestBatchBodyStaysWithinMaxBytes(t *testing.T) {
	batches := deliverBatched(t, router.Batch{MaxEvents: 100, MaxBytes: 1024, MaxWait: spec.Duration(500 * time.Millisecond)}, eventIDs("bytes", 30))
	largest := 0
	for _, b := range batches {
		if len(b.body) > 1024 {
			t.Errorf("a batch body of %d bytes with %d events; max_bytes is 1024", len(b.body), len(b.events))
		}
		largest = max(largest, len(b.events))
	}
	if largest < 2 {
		t.Errorf("no batch held two events (%d requests): max_bytes 1024 fits several ~200-byte events", len(batches))
	}
}

// Events that arrive together travel together: a burst of max_events
// fills one batch, though max_inflight leaves room for two to be sent at
// once.
func TestABurstOfMaxEventsTravelsAsOneBatch(t *testing.T) {
	ids := eventIDs("burst", 10)
	batches := deliverBatched(t, router.Batch{MaxEvents: 10, MaxWait: spec.Duration(2 * time.Second)}, ids)
	if len(batches) != 1 || len(batches[0].events) != len(ids) {
		sizes := make([]int, len(batches))
		for i, b := range batches {
			sizes[i] = len(b.events)
		}
		t.Errorf("a burst of %d events with max_events %d came in batches of %v; want one batch of all of them", len(ids), len(ids), sizes)
	}
}

// A retry the bus holds in place (on an ordered route) goes on beside the
// batches rather than holding them: here the route has room for one batch
// at a time, and its first event is answered 503 until every other event
// was taken. Each of its retries is a batch of one.
func TestAHeldRetryDoesNotHoldItsBatchMates(t *testing.T) {
	stuck := "a-00"
	others := []string{"b-00", "b-01", "c-00", "c-01", "d-00"}
	othersTaken := 0
	rcv := newResultsReceiver(t, func(e event.Event) int {
		if e.ID() != stuck {
			othersTaken++
			return http.StatusOK
		}
		if othersTaken < len(others) {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	r := batchRoute("held", "", rcv.url, router.Batch{MaxEvents: 10, MaxWait: spec.Duration(20 * time.Millisecond)})
	r.Delivery.OrderingKey = "subject"
	r.Delivery.MaxInflight = 10
	r.Delivery.MaxAttempts = 1000
	base := bustest.Start(t, bus.Config{Routes: []router.Route{r}}).URL
	subject := func(id string) string { return id[:1] }
	emitBatch(t, base, []string{stuck}, subject)
	testkit.EventuallyNoError(t, 30*time.Second, func() error {
		if seen, _ := rcv.counts(stuck); seen < 2 {
			return fmt.Errorf("%s was sent %d times; want it retried", stuck, seen)
		}
		return nil
	})
	emitBatch(t, base, others, subject)

	batches := rcv.waitAcked(t, append([]string{stuck}, others...))
	for _, b := range batches {
		for _, e := range b.events {
			if e.ID() == stuck && len(b.events) != 1 {
				t.Errorf("a retry of %s held in place came in a batch of %d; want a batch of one", stuck, len(b.events))
			}
		}
	}
}

// A route's rate paces the events of its batches too, and max_wait still
// bounds how long a batch waits: at 10 events a second, a batch that
// waits at most 300ms holds at most 4 events (the one that opened it and
// the 3 the rate allows after it), however many are waiting.
func TestARateLimitedBatchHoldsWhatTheRateAllowsWithinMaxWait(t *testing.T) {
	rcv := newBatchReceiver(t, nil)
	r := batchRoute("paced", "", rcv.url, router.Batch{MaxEvents: 10, MaxWait: spec.Duration(300 * time.Millisecond)})
	r.Delivery.Rate = "10/s"
	base := bustest.Start(t, bus.Config{Routes: []router.Route{r}}).URL
	ids := eventIDs("paced", 8)
	emitBatch(t, base, ids, nil)
	for _, b := range rcv.waitAcked(t, ids) {
		if len(b.events) > 4 {
			t.Errorf("a batch of %d events at 10 a second within a max_wait of 300ms; want at most 4", len(b.events))
		}
	}
}
