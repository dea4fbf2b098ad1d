package router

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/eventbus-go/eventbus/spec"
)

// TestPattern backs both `eventbus test-pattern` and POST /v1/test-pattern;
// a caller fixes its input by the field the error names.
func TestTestPatternNamesTheFieldAtFault(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rule     Rule
		event    string
		wantPath string
	}{
		{"no event", Rule{Match: json.RawMessage(`{"type":["a"]}`)}, "  ", "event"},
		{"event not an object", Rule{Match: json.RawMessage(`{"type":["a"]}`)}, `[1]`, "event"},
		{"bad pattern", Rule{Match: json.RawMessage(`{"type":"a"}`)}, `{"type":"a"}`, "match.type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TestPattern(tc.rule, []byte(tc.event))
			var fe *spec.FieldError
			if !errors.As(err, &fe) || fe.Path != tc.wantPath {
				t.Fatalf("TestPattern error = %v, want a *spec.FieldError at %q so the caller knows which input to fix", err, tc.wantPath)
			}
		})
	}
}

func TestTestPatternExplainsAMatchAndAMiss(t *testing.T) {
	rule := Rule{Match: json.RawMessage(`{"type":["user.signed_up"]}`)}
	ex, err := TestPattern(rule, []byte(`{"type":"user.signed_up"}`))
	if err != nil || !ex.Matched {
		t.Fatalf("TestPattern = %+v, %v; want a match: the event has the type the pattern lists", ex, err)
	}
	ex, err = TestPattern(rule, []byte(`{"type":"user.deleted"}`))
	if err != nil || ex.Matched || ex.Reason == "" {
		t.Fatalf("TestPattern = %+v, %v; want no match with a reason, which is what a person testing a pattern needs", ex, err)
	}
}
