package router

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/eventbus-go/eventbus/spec"
)

// Defaults of a bus's archive: the oldest events go once either is passed.
const (
	DefaultArchiveMaxAge   = 24 * time.Hour
	DefaultArchiveMaxBytes = 1 << 30
)

// archiveOff is how the JSON (and YAML) form writes an archive turned off.
const archiveOff = "off"

// Archive is how long a bus keeps the events it accepted, to replay them
// into a route. Written as "off", or as {"max_age": "24h", "max_bytes":
// 1073741824} where a zero field takes its default. A nil *Archive on a
// bus means the defaults.
type Archive struct {
	// Off keeps no archive.
	Off      bool          `json:"-"`
	MaxAge   spec.Duration `json:"max_age,omitzero"`
	MaxBytes int64         `json:"max_bytes,omitempty"`
}

// archiveFields is Archive's object form, without its methods.
type archiveFields Archive

// MarshalJSON writes "off" or the limits.
func (a Archive) MarshalJSON() ([]byte, error) {
	if a.Off {
		return json.Marshal(archiveOff)
	}
	return json.Marshal(archiveFields(a))
}

// UnmarshalJSON reads "off" or the limits.
func (a *Archive) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s != archiveOff {
			return fmt.Errorf("archive: %q is not \"off\" or {\"max_age\": …, \"max_bytes\": …}", s)
		}
		*a = Archive{Off: true}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f archiveFields
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("archive: %w (write \"off\" or {\"max_age\": \"24h\", \"max_bytes\": 1073741824})", err)
	}
	*a = Archive(f)
	return nil
}

// WithDefaults fills the zero limits of an archive that is on; nil means
// an archive with the defaults.
func (a *Archive) WithDefaults() Archive {
	var out Archive
	if a != nil {
		out = *a
	}
	if out.Off {
		return Archive{Off: true}
	}
	if out.MaxAge == 0 {
		out.MaxAge = spec.Duration(DefaultArchiveMaxAge)
	}
	if out.MaxBytes == 0 {
		out.MaxBytes = DefaultArchiveMaxBytes
	}
	return out
}

func (a *Archive) validate() error {
	switch {
	case a == nil || a.Off:
		return nil
	case a.MaxAge < 0:
		return &spec.FieldError{Path: "archive.max_age", Message: "must not be negative"}
	case a.MaxBytes < 0:
		return &spec.FieldError{Path: "archive.max_bytes", Message: "must not be negative"}
	}
	return nil
}

// Where a new route starts taking events (Route.Start): besides these, a
// time in RFC 3339 ("2026-05-01T12:00:00Z").
const (
	// StartLatest: only events accepted from now on (the default).
	StartLatest = "latest"
	// StartEarliest: every event the bus's archive still holds, then new
	// ones.
	StartEarliest = "earliest"
)

// StartTime reads a route's start position: ok false for latest (or
// empty), the zero time for earliest, else the time.
func StartTime(start string) (t time.Time, ok bool, err error) {
	switch start {
	case "", StartLatest:
		return time.Time{}, false, nil
	case StartEarliest:
		return time.Time{}, true, nil
	}
	t, err = time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return time.Time{}, false, &spec.FieldError{Path: "start", Message: fmt.Sprintf("%q is not latest, earliest or an RFC 3339 time such as 2026-05-01T12:00:00Z", start)}
	}
	return t, true, nil
}
