package httpapi

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// The hand-written answer must say exactly what encoding/json would.
func TestWriteResultsMatchesEncodingJSON(t *testing.T) {
	results := []any{
		acceptedEvent{ID: `quote " back \ slash`, Source: "tab\there\x01ctl", Routes: []string{"a", "b"}},
		acceptedEvent{ID: "ünïcödé ✓", Source: "bad utf8 \xff", Routes: []string{}},
	}
	rec := httptest.NewRecorder()
	writeResults(rec, 202, results)
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
