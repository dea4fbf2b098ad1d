// Package spec holds the building blocks that eventbus's resource
// documents are written with — routes and buses (router), plugin configs
// (plugins), ACLs and the auth config (auth), the server config (bus):
//
//   - FieldError, a validation failure that names the field at fault by
//     its JSON path, which the HTTP API reports as a 400 with that path;
//   - Duration, a time.Duration written as a Go duration string ("200ms",
//     "1m") in JSON and YAML.
//
// Each existed once per package that validates a document, with the bus
// translating one into another. It is a leaf, importing only the standard
// library, so that router, plugins and auth share one definition without
// importing each other or the bus.
package spec

import (
	"encoding/json"
	"fmt"
	"time"
)

// FieldError is a validation failure of one field, named by its JSON path
// (for example "delivery.max_attempts", "match.data.plan[0].prefix" or,
// in a config file, "routes[2].target.http.url").
type FieldError struct {
	Path    string
	Message string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Message }

// Duration is a time.Duration written as a Go duration string ("200ms",
// "1m") in JSON and YAML.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string such as "200ms" or "1m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"200ms\" or \"1m\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: use a number with a unit such as \"200ms\", \"5s\" or \"1m\"", s)
	}
	*d = Duration(v)
	return nil
}

// Flatten lists the errors joined in err (errors.Join, at any depth), or
// err itself: the field errors of a document, one by one.
func Flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Flatten(e)...)
		}
		return out
	}
	return []error{err}
}
