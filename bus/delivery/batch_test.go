package delivery

import (
	"net/http"
	"testing"

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
	resp := &http.Response{StatusCode: http.StatusMultiStatus, Header: http.Header{}}
	got := (&HTTPTarget{}).judgeResults(resp, members, results)
	want := []verdict.Verdict{verdict.Ack, verdict.Drop, verdict.DeadLetter, verdict.Retry, verdict.Retry}
	for i, m := range members {
		if got[i].Verdict != want[i] {
			t.Errorf("%s: verdict %v (%s); want %v", m.id, got[i].Verdict, got[i].Reason, want[i])
		}
	}
}
