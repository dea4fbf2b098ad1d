package spec

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// Durations in config files and the API are written as people write them.
func TestDurationIsWrittenAndReadAsAGoDurationString(t *testing.T) {
	var got struct{ D Duration }
	if err := json.Unmarshal([]byte(`{"D":"1m30s"}`), &got); err != nil || time.Duration(got.D) != 90*time.Second {
		t.Fatalf("reading \"1m30s\" = %v, %v; want 1m30s: config files write durations as strings", time.Duration(got.D), err)
	}
	b, err := json.Marshal(Duration(200 * time.Millisecond))
	if err != nil || string(b) != `"200ms"` {
		t.Fatalf("writing 200ms = %s, %v; want \"200ms\" so the API answers in the form it accepts", b, err)
	}
}

func TestBadDurationSaysHowToWriteOne(t *testing.T) {
	for _, doc := range []string{`5`, `"5"`, `"soon"`} {
		var d Duration
		err := json.Unmarshal([]byte(doc), &d)
		if err == nil || !strings.Contains(err.Error(), `"200ms"`) {
			t.Errorf("reading %s: error %v; want one that shows a valid duration such as \"200ms\"", doc, err)
		}
	}
}

func TestFieldErrorNamesItsPath(t *testing.T) {
	err := error(&FieldError{Path: "delivery.max_attempts", Message: "must be positive"})
	var fe *FieldError
	if !errors.As(err, &fe) || err.Error() != "delivery.max_attempts: must be positive" {
		t.Fatalf("FieldError = %q; want the path, then the message, so a person finds the field", err)
	}
}
