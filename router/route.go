package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// DefaultBus is the bus a route or an event belongs to when it names none.
const DefaultBus = "default"

// DeadLetterSuffix ends the name of every route's dead-letter channel; route
// names may not end with it.
const DeadLetterSuffix = ".dlq"

// Route says which events a bus sends where: the events its Rule selects are
// stored on Backend and delivered to Target under the Delivery policy.
// The JSON form is the one of the admin API; YAML config uses the same fields.
type Route struct {
	Name     string          `json:"name"`
	Bus      string          `json:"bus,omitempty"`
	Match    json.RawMessage `json:"match,omitempty"`
	Filters  json.RawMessage `json:"filters,omitempty"`
	Backend  string          `json:"backend,omitempty"`
	Target   Target          `json:"target"`
	Delivery Delivery        `json:"delivery,omitzero"`
	// Paused routes keep matching and storing events but deliver none until
	// they are resumed, for example while their target is under maintenance.
	Paused bool `json:"paused,omitempty"`
}

// Rule returns the part of the route that selects events.
func (r *Route) Rule() Rule { return Rule{Match: r.Match, Filters: r.Filters} }

// Target is where a route delivers. Exactly one field is set.
type Target struct {
	HTTP *HTTPTarget `json:"http,omitempty"`
}

// HTTPTarget delivers each event as a CloudEvents HTTP request in binary mode.
type HTTPTarget struct {
	URL string `json:"url"`
	// Timeout bounds one delivery attempt; zero means DefaultHTTPTimeout.
	Timeout Duration `json:"timeout,omitzero"`
	// Headers are added to every request, e.g. an Authorization header.
	Headers map[string]string `json:"headers,omitempty"`
}

// Delivery is a route's delivery policy. Zero fields take the defaults below.
type Delivery struct {
	MaxAttempts int     `json:"max_attempts,omitempty"`
	Backoff     Backoff `json:"backoff,omitzero"`
	MaxInflight int     `json:"max_inflight,omitempty"`
}

// Backoff bounds the exponential wait between attempts.
type Backoff struct {
	Initial Duration `json:"initial,omitzero"`
	Max     Duration `json:"max,omitzero"`
}

// Defaults for zero Delivery and HTTPTarget fields.
const (
	DefaultMaxAttempts    = 10
	DefaultBackoffInitial = 200 * time.Millisecond
	DefaultBackoffMax     = time.Minute
	DefaultMaxInflight    = 16
	DefaultHTTPTimeout    = 10 * time.Second
)

// WithDefaults returns the route with every zero field that has a default
// filled in: what the bus actually runs.
func (r Route) WithDefaults() Route {
	if r.Bus == "" {
		r.Bus = DefaultBus
	}
	d := &r.Delivery
	if d.MaxAttempts == 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	if d.Backoff.Initial == 0 {
		d.Backoff.Initial = Duration(DefaultBackoffInitial)
	}
	if d.Backoff.Max == 0 {
		d.Backoff.Max = Duration(max(DefaultBackoffMax, time.Duration(d.Backoff.Initial)))
	}
	if d.MaxInflight == 0 {
		d.MaxInflight = DefaultMaxInflight
	}
	if h := r.Target.HTTP; h != nil && h.Timeout == 0 {
		hc := *h
		hc.Timeout = Duration(DefaultHTTPTimeout)
		r.Target.HTTP = &hc
	}
	return r
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidateName checks a route or bus name.
func ValidateName(field, name string) error {
	if name == "" {
		return &FieldError{Path: field, Message: "is required"}
	}
	if !namePattern.MatchString(name) {
		return &FieldError{Path: field, Message: fmt.Sprintf("%q must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit", name)}
	}
	return nil
}

// Validate checks every field of the route and returns all problems found,
// each a *FieldError naming the offending field by its JSON path.
func (r *Route) Validate(lim Limits) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(ValidateName("name", r.Name))
	if strings.HasSuffix(r.Name, DeadLetterSuffix) {
		add(&FieldError{Path: "name", Message: fmt.Sprintf("%q may not end with %q: that suffix names dead-letter channels", r.Name, DeadLetterSuffix)})
	}
	if r.Bus != "" {
		add(ValidateName("bus", r.Bus))
	}
	add(r.Rule().Validate(lim))
	if r.Backend != "" {
		if u, err := url.Parse(r.Backend); err != nil || u.Scheme == "" {
			add(&FieldError{Path: "backend", Message: fmt.Sprintf("%q is not a backend URL such as mem:// or rabbit://host:5672/", r.Backend)})
		}
	}
	add(r.Target.validate())
	add(r.Delivery.validate())
	return errors.Join(errs...)
}

func (t *Target) validate() error {
	if t.HTTP == nil {
		return &FieldError{Path: "target", Message: `is required: set target.http.url`}
	}
	u, err := url.Parse(t.HTTP.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &FieldError{Path: "target.http.url", Message: fmt.Sprintf("%q is not an absolute http(s) URL", t.HTTP.URL)}
	}
	if t.HTTP.Timeout < 0 {
		return &FieldError{Path: "target.http.timeout", Message: "must not be negative"}
	}
	return nil
}

func (d *Delivery) validate() error {
	var errs []error
	if d.MaxAttempts < 0 {
		errs = append(errs, &FieldError{Path: "delivery.max_attempts", Message: "must be at least 1 (0 means the default)"})
	}
	if d.MaxInflight < 0 {
		errs = append(errs, &FieldError{Path: "delivery.max_inflight", Message: "must be at least 1 (0 means the default)"})
	}
	if d.Backoff.Initial < 0 {
		errs = append(errs, &FieldError{Path: "delivery.backoff.initial", Message: "must not be negative"})
	}
	if d.Backoff.Max < 0 || (d.Backoff.Max > 0 && d.Backoff.Max < d.Backoff.Initial) {
		errs = append(errs, &FieldError{Path: "delivery.backoff.max", Message: "must not be below backoff.initial"})
	}
	return errors.Join(errs...)
}

// FieldError is a validation failure of one field, named by its JSON path
// (for example "delivery.max_attempts" or "match.data.plan[0].prefix").
type FieldError struct {
	Path    string
	Message string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Message }

// Duration is a time.Duration written as a Go duration string ("200ms", "1m")
// in JSON and YAML.
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
