package delivery

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/verdict"
)

// A batch result names its verdict with a status, a verdict, or both; one
// with only a verdict takes it, and one with neither is retried.
func TestBatchResultsAreJudgedPerEvent(t *testing.T) {
	members := []member{{"/s", "ok"}, {"/s", "verdict-only"}, {"/s", "bad"}, {"/s", "no-status"}, {"/s", "left-out"}}
	results := []BatchResult{
		{ID: "ok", Source: "/s", Status: 200},
		{ID: "verdict-only", Source: "/s", Verdict: "drop"},
		{ID: "bad", Source: "/s", Status: 422},
		{ID: "no-status", Source: "/s"},
	}
	got := (&HTTPTarget{}).judgeResults(batchAnswer{status: http.StatusMultiStatus}, members, results)
	want := []verdict.Verdict{verdict.Ack, verdict.Drop, verdict.DeadLetter, verdict.Retry, verdict.Retry}
	for i, m := range members {
		if got[i].Verdict != want[i] {
			t.Errorf("%s: verdict %v (%s); want %v", m.id, got[i].Verdict, got[i].Reason, want[i])
		}
	}
}

// A batch goes on fasthttp's client over plain HTTP and on net/http's
// otherwise (https, a proxy); the target gets the same request either way,
// and its answer is judged the same.
func TestABatchIsTheSameRequestOnEitherClient(t *testing.T) {
	var got []string // per request: content type, signature present, ids
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var events []struct{ ID, Source string }
		if err := json.Unmarshal(body, &events); err != nil {
			t.Errorf("the batch body is not a JSON array of events: %v: %s", err, body)
		}
		ids := make([]string, len(events))
		results := make([]BatchResult, len(events))
		for i, e := range events {
			ids[i] = e.ID
			results[i] = BatchResult{ID: e.ID, Source: e.Source, Status: http.StatusOK}
			if e.ID == "later" {
				results[i].Status = http.StatusServiceUnavailable
			}
		}
		got = append(got, r.Header.Get("Content-Type")+" signed="+strconv.FormatBool(r.Header.Get("Webhook-Signature") != "")+" "+strings.Join(ids, ","))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusMultiStatus)
		_ = json.NewEncoder(w).Encode(BatchResults{Results: results})
	}))
	t.Cleanup(srv.Close)
	batchOf := func(plain bool) BatchTarget {
		ht := plainTarget(t, srv.URL, nil)
		if !plain {
			ht.plain = nil
		}
		r := router.Route{Delivery: router.Delivery{Batch: &router.Batch{MaxBytes: 1 << 20}}}
		return Batched(ht, &r).(BatchTarget)
	}
	events := []*event.Event{testEvent("now"), testEvent("later")}
	for _, client := range []struct {
		name  string
		plain bool
	}{{"fasthttp", true}, {"net/http", false}} {
		got = nil
		outs := batchOf(client.plain).DeliverBatch(t.Context(), events)
		if want := "application/cloudevents-batch+json signed=true now,later"; len(got) != 1 || got[0] != want {
			t.Errorf("%s: the target got %q; want one request %q", client.name, got, want)
		}
		if outs[0].Verdict != verdict.Ack || outs[1].Verdict != verdict.Retry || outs[1].RetryAfter != 7*time.Second {
			t.Errorf("%s: outcomes %+v; want an ack, then a retry after the answer's 7s", client.name, outs)
		}
	}
}
