package httpapi

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/eventbus-go/eventbus/bus"
)

// The hand-written answer must say exactly what encoding/json would.
func TestWriteAcceptedMatchesEncodingJSON(t *testing.T) {
	stored := []bus.Result{
		{ID: `quote " back \ slash`, Source: "tab\there\x01ctl", Routes: []string{"a", "b"}},
		{ID: "ünïcödé ✓", Source: "bad utf8 \xff", Routes: []string{}},
	}
	results := []any{answer(stored[0]), answer(stored[1])}
	rec := httptest.NewRecorder()
	writeAccepted(rec, stored)
	var got, want any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %s: %v", rec.Body.Bytes(), err)
	}
	wantBytes, _ := json.Marshal(ingressResponse{Results: results})
	_ = json.Unmarshal(wantBytes, &want)
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("got  %s\nwant %s", g, w)
	}
}
