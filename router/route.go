package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/spec"
	"github.com/eventbus-go/eventbus/transform"
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
	Name    string          `json:"name"`
	Bus     string          `json:"bus,omitempty"`
	Match   json.RawMessage `json:"match,omitempty"`
	Filters json.RawMessage `json:"filters,omitempty"`
	Backend string          `json:"backend,omitempty"`
	Target  Target          `json:"target"`
	// Transform is a jq program that reshapes each event before delivery
	// (see package transform); empty: events go as they came.
	Transform string   `json:"transform,omitempty"`
	Delivery  Delivery `json:"delivery,omitzero"`
	// Start is where a new route starts taking events: StartLatest (the
	// default), StartEarliest or an RFC 3339 time, replayed from the bus's
	// archive. It is read once, when the route is created.
	Start string `json:"start,omitempty"`
	// Paused routes keep matching and storing events but deliver none until
	// they are resumed, for example while their target is under maintenance.
	Paused bool `json:"paused,omitempty"`
	// Version is bumped by the bus on every change (read-only). A PUT that
	// carries a non-zero version must match the stored one.
	Version int64 `json:"version,omitempty"`
	// Origin is where the route comes from (read-only): OriginConfig or
	// OriginAPI.
	Origin string `json:"origin,omitempty"`
}

// Where a route or bus comes from.
const (
	// OriginConfig: the bus's config file; read-only through the API.
	OriginConfig = "config"
	// OriginAPI: the admin API (or Terraform); kept in the bus's store.
	OriginAPI = "api"
	// OriginBuiltin: the default bus, which always exists.
	OriginBuiltin = "builtin"
)

// Bus is a named bus: producers emit to it and routes belong to it.
type Bus struct {
	Name string `json:"name"`
	// Backend is the backend URL of the bus's routes that name none.
	Backend string `json:"backend,omitempty"`
	// ACL says which groups may emit to, manage, read and redrive on the
	// bus when authentication is on; nil leaves the bus to auth.admins.
	ACL *auth.ACL `json:"acl,omitempty"`
	// Archive keeps the bus's accepted events for replay; nil means the
	// default limits, on a backend that can hold an archive.
	Archive *Archive `json:"archive,omitempty"`
	// Schemas says what ingress does with an event whose data breaks the
	// JSON Schema of its type: SchemasEnforce, SchemasWarn or SchemasOff
	// (the default, also when empty).
	Schemas string `json:"schemas,omitempty"`
	// Version and Origin are set by the bus, as for Route.
	Version int64  `json:"version,omitempty"`
	Origin  string `json:"origin,omitempty"`
}

// The modes of Bus.Schemas.
const (
	// SchemasEnforce refuses an event whose data breaks its type's schema.
	SchemasEnforce = "enforce"
	// SchemasWarn accepts it, counts and logs it, and infers a schema per
	// type from the traffic.
	SchemasWarn = "warn"
	// SchemasOff checks nothing.
	SchemasOff = "off"
)

// Validate checks the bus's fields.
func (b *Bus) Validate() error {
	var errs []error
	if err := ValidateName("name", b.Name); err != nil {
		errs = append(errs, err)
	}
	if b.Backend != "" {
		if msg := backendURLProblem(b.Backend, "mem:// or rabbit://host:5672/"); msg != "" {
			errs = append(errs, &spec.FieldError{Path: "backend", Message: msg})
		}
	}
	if err := b.Archive.validate(); err != nil {
		errs = append(errs, err)
	}
	switch b.Schemas {
	case "", SchemasOff, SchemasWarn, SchemasEnforce:
	default:
		errs = append(errs, &spec.FieldError{Path: "schemas", Message: fmt.Sprintf("%q is not a mode: use enforce, warn or off", b.Schemas)})
	}
	if b.ACL != nil {
		if joined, ok := b.ACL.Validate().(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				if fe, ok := e.(*spec.FieldError); ok {
					e = &spec.FieldError{Path: "acl." + fe.Path, Message: fe.Message}
				}
				errs = append(errs, e)
			}
		}
	}
	return errors.Join(errs...)
}

// Rule returns the part of the route that selects events.
func (r *Route) Rule() Rule { return Rule{Match: r.Match, Filters: r.Filters} }

// Target is where a route delivers. Exactly one field is set.
type Target struct {
	HTTP   *HTTPTarget   `json:"http,omitempty"`
	Topic  *TopicTarget  `json:"topic,omitempty"`
	Plugin *PluginTarget `json:"plugin,omitempty"`
}

// PluginTarget hands each event to a handler plugin declared in the bus
// config's plugins list.
type PluginTarget struct {
	Name string `json:"name"`
}

// TopicTarget publishes each event to a topic on a backend, for other
// systems to read: an exchange on RabbitMQ, a topic on Kafka, a queue on SQS;
// or, with a zmq+tcp:// URL, on a ZeroMQ PUB socket.
type TopicTarget struct {
	// URL names the backend, as a route's backend does, or a ZeroMQ
	// endpoint (zmq+tcp://host:port).
	URL string `json:"url"`
	// Name is the topic's name on that backend (empty for ZeroMQ).
	Name string `json:"name"`
	// ZeroMQ tunes a zmq+tcp:// target; nil means the defaults.
	ZeroMQ *ZeroMQTopic `json:"zeromq,omitempty"`
}

// HTTPTarget delivers each event as a CloudEvents HTTP request in binary mode.
type HTTPTarget struct {
	URL string `json:"url"`
	// Timeout bounds one delivery attempt; zero means DefaultHTTPTimeout.
	Timeout spec.Duration `json:"timeout,omitzero"`
	// Headers are added to every request, e.g. an Authorization header.
	Headers map[string]string `json:"headers,omitempty"`
	// Signing signs every delivery (Standard Webhooks); nil means signed
	// with a secret the bus generates.
	Signing *Signing `json:"signing,omitempty"`
	// Auth authenticates the bus to the endpoint; nil means no auth.
	Auth *TargetAuth `json:"auth,omitempty"`
}

// Delivery is a route's delivery policy. Zero fields take the defaults below.
type Delivery struct {
	// MaxAttempts and MaxAge bound retries: an event is dead-lettered after
	// MaxAttempts attempts, or once MaxAge has passed since its first attempt.
	MaxAttempts int           `json:"max_attempts,omitempty"`
	MaxAge      spec.Duration `json:"max_age,omitzero"`
	Backoff     Backoff       `json:"backoff,omitzero"`
	// DeadLetter false drops exhausted events instead of keeping them on the
	// route's dead-letter channel. Unset means true.
	DeadLetter *bool `json:"dead_letter,omitempty"`
	// ClientErrors says what a 4xx answer other than 429 means:
	// "dead-letter" at once (the default) or "retry" like a 5xx.
	ClientErrors string `json:"client_errors,omitempty"`
	// MaxInflight bounds the deliveries in progress at once.
	MaxInflight int `json:"max_inflight,omitempty"`
	// OrderingKey names an attribute ("subject") or a data path
	// ("data.customer.id"): events with the same key are delivered one at a
	// time, in order.
	OrderingKey string `json:"ordering_key,omitempty"`
	// Rate caps deliveries, e.g. "200/s", "30/m", "1000/h".
	Rate string `json:"rate,omitempty"`
	// Delay holds every event back this long before its first delivery.
	Delay spec.Duration `json:"delay,omitzero"`
	// MaxDepth caps the events stored and not yet finished; Overflow says
	// what happens to an event past it: "reject" (429, the default),
	// "block" (ingress waits up to BlockTimeout for room), "drop-oldest",
	// or "divert:<route>" (stored on that route instead).
	MaxDepth     int           `json:"max_depth,omitempty"`
	Overflow     string        `json:"overflow,omitempty"`
	BlockTimeout spec.Duration `json:"block_timeout,omitzero"`
	// Batch sends an HTTP target several events per request; nil sends
	// one per request.
	Batch *Batch `json:"batch,omitempty"`
}

// The overflow policies.
const (
	OverflowReject     = "reject"
	OverflowBlock      = "block"
	OverflowDropOldest = "drop-oldest"
	OverflowDivert     = "divert:"
)

// The answers to ClientErrors.
const (
	ClientErrorsDeadLetter = "dead-letter"
	ClientErrorsRetry      = "retry"
)

// DivertTo returns the route an overflowing event goes to, if the overflow
// policy is a divert.
func (d *Delivery) DivertTo() (string, bool) {
	return strings.CutPrefix(d.Overflow, OverflowDivert)
}

// DeadLetters reports whether exhausted events are kept (the default).
func (d *Delivery) DeadLetters() bool { return d.DeadLetter == nil || *d.DeadLetter }

// ParseRate reads a rate such as "200/s" into events per second.
func ParseRate(s string) (float64, error) {
	num, unit, ok := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a rate such as \"200/s\", \"30/m\" or \"1000/h\"", s)
	}
	switch unit {
	case "s":
		return n, nil
	case "m":
		return n / 60, nil
	case "h":
		return n / 3600, nil
	}
	return 0, fmt.Errorf("%q: the unit after / must be s, m or h", s)
}

// Backoff bounds the exponential wait between attempts.
type Backoff struct {
	Initial spec.Duration `json:"initial,omitzero"`
	Max     spec.Duration `json:"max,omitzero"`
}

// Defaults for zero Delivery and HTTPTarget fields.
const (
	DefaultMaxAttempts    = 10
	DefaultBackoffInitial = 200 * time.Millisecond
	DefaultBackoffMax     = time.Minute
	DefaultMaxInflight    = 16
	DefaultHTTPTimeout    = 10 * time.Second
	DefaultBlockTimeout   = 5 * time.Second
)

// WithDefaults returns the route with every zero field that has a default
// filled in: what the bus actually runs.
func (r Route) WithDefaults() Route {
	if r.Bus == "" {
		r.Bus = DefaultBus
	}
	d := &r.Delivery
	if d.Batch != nil {
		d.Batch = d.Batch.withDefaults(d)
	}
	if d.MaxAttempts == 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	if d.Backoff.Initial == 0 {
		d.Backoff.Initial = spec.Duration(DefaultBackoffInitial)
	}
	if d.Backoff.Max == 0 {
		d.Backoff.Max = spec.Duration(max(DefaultBackoffMax, time.Duration(d.Backoff.Initial)))
	}
	if d.MaxInflight == 0 {
		d.MaxInflight = DefaultMaxInflight
	}
	if d.ClientErrors == "" {
		d.ClientErrors = ClientErrorsDeadLetter
	}
	if d.MaxDepth > 0 && d.Overflow == "" {
		d.Overflow = OverflowReject
	}
	if d.Overflow == OverflowBlock && d.BlockTimeout == 0 {
		d.BlockTimeout = spec.Duration(DefaultBlockTimeout)
	}
	if h := r.Target.HTTP; h != nil && h.Timeout == 0 {
		hc := *h
		hc.Timeout = spec.Duration(DefaultHTTPTimeout)
		r.Target.HTTP = &hc
	}
	return r
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidateName checks a route or bus name.
func ValidateName(field, name string) error {
	if name == "" {
		return &spec.FieldError{Path: field, Message: "is required"}
	}
	if !namePattern.MatchString(name) {
		return &spec.FieldError{Path: field, Message: fmt.Sprintf("%q must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit", name)}
	}
	return nil
}

// Validate checks every field of the route and returns all problems found,
// each a *spec.FieldError naming the offending field by its JSON path.
func (r *Route) Validate(lim Limits) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(ValidateName("name", r.Name))
	if strings.HasSuffix(r.Name, DeadLetterSuffix) {
		add(&spec.FieldError{Path: "name", Message: fmt.Sprintf("%q may not end with %q: that suffix names dead-letter channels", r.Name, DeadLetterSuffix)})
	}
	if r.Bus != "" {
		add(ValidateName("bus", r.Bus))
	}
	add(r.Rule().Validate(lim))
	if r.Backend != "" {
		if msg := backendURLProblem(r.Backend, "mem:// or rabbit://host:5672/"); msg != "" {
			add(&spec.FieldError{Path: "backend", Message: msg})
		}
	}
	add(r.Target.validate())
	if r.Transform != "" {
		if _, err := transform.Compile(r.Transform); err != nil {
			add(&spec.FieldError{Path: "transform", Message: err.Error()})
		}
	}
	add(r.Delivery.validate())
	if _, _, err := StartTime(r.Start); err != nil {
		add(err)
	}
	add(r.validateBatch())
	return errors.Join(errs...)
}

func (t *Target) validate() error {
	set := 0
	for _, isSet := range []bool{t.HTTP != nil, t.Topic != nil, t.Plugin != nil} {
		if isSet {
			set++
		}
	}
	switch {
	case set > 1:
		return &spec.FieldError{Path: "target", Message: "set exactly one of target.http, target.topic and target.plugin"}
	case t.Topic != nil:
		return t.Topic.validate()
	case t.Plugin != nil:
		return ValidateName("target.plugin.name", t.Plugin.Name)
	case t.HTTP == nil:
		return &spec.FieldError{Path: "target", Message: `is required: set target.http, target.topic or target.plugin`}
	}
	u, err := url.Parse(t.HTTP.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &spec.FieldError{Path: "target.http.url", Message: fmt.Sprintf("%q is not an absolute http(s) URL", t.HTTP.URL)}
	}
	if t.HTTP.Timeout < 0 {
		return &spec.FieldError{Path: "target.http.timeout", Message: "must not be negative"}
	}
	if s := t.HTTP.Signing; s != nil {
		if err := s.validate(); err != nil {
			return err
		}
	}
	if a := t.HTTP.Auth; a != nil {
		return a.validate()
	}
	return nil
}

// backendURLProblem says why raw is not a backend URL such as example, or
// "" when it is one. It does not repeat raw: a backend URL may hold a
// password, and errors reach logs and API answers.
func backendURLProblem(raw, example string) string {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // ue's own message repeats the URL
		}
		return fmt.Sprintf("is not a backend URL such as %s: %v", example, err)
	}
	if u.Scheme == "" {
		return fmt.Sprintf("has no scheme: write a backend URL such as %s", example)
	}
	return ""
}

func (t *TopicTarget) validate() error {
	if t.IsZeroMQ() {
		return t.validateZeroMQ()
	}
	if t.ZeroMQ != nil {
		return &spec.FieldError{Path: "target.topic.zeromq", Message: "applies only to a zmq+tcp:// url"}
	}
	if msg := backendURLProblem(t.URL, "rabbit://host:5672/"); msg != "" {
		return &spec.FieldError{Path: "target.topic.url", Message: msg}
	}
	if t.Name == "" {
		return &spec.FieldError{Path: "target.topic.name", Message: "is required: the topic other systems read"}
	}
	return nil
}

func (d *Delivery) validate() error {
	var errs []error
	if d.MaxAttempts < 0 {
		errs = append(errs, &spec.FieldError{Path: "delivery.max_attempts", Message: "must be at least 1 (0 means the default)"})
	}
	if d.MaxInflight < 0 {
		errs = append(errs, &spec.FieldError{Path: "delivery.max_inflight", Message: "must be at least 1 (0 means the default)"})
	}
	if d.Backoff.Initial < 0 {
		errs = append(errs, &spec.FieldError{Path: "delivery.backoff.initial", Message: "must not be negative"})
	}
	if d.Backoff.Max < 0 || (d.Backoff.Max > 0 && d.Backoff.Max < d.Backoff.Initial) {
		errs = append(errs, &spec.FieldError{Path: "delivery.backoff.max", Message: "must not be below backoff.initial"})
	}
	if d.MaxAge < 0 {
		errs = append(errs, &spec.FieldError{Path: "delivery.max_age", Message: "must not be negative"})
	}
	switch d.ClientErrors {
	case "", ClientErrorsDeadLetter, ClientErrorsRetry:
	default:
		errs = append(errs, &spec.FieldError{Path: "delivery.client_errors", Message: fmt.Sprintf("%q: use %q or %q", d.ClientErrors, ClientErrorsDeadLetter, ClientErrorsRetry)})
	}
	if d.OrderingKey != "" && !validOrderingKey(d.OrderingKey) {
		errs = append(errs, &spec.FieldError{Path: "delivery.ordering_key", Message: fmt.Sprintf("%q: name an attribute (\"subject\") or a data path (\"data.customer.id\")", d.OrderingKey)})
	}
	if d.Rate != "" {
		if _, err := ParseRate(d.Rate); err != nil {
			errs = append(errs, &spec.FieldError{Path: "delivery.rate", Message: err.Error()})
		}
	}
	if d.Delay < 0 {
		errs = append(errs, &spec.FieldError{Path: "delivery.delay", Message: "must not be negative"})
	}
	if d.MaxDepth < 0 {
		errs = append(errs, &spec.FieldError{Path: "delivery.max_depth", Message: "must be positive (0 means no cap)"})
	}
	if d.BlockTimeout < 0 {
		errs = append(errs, &spec.FieldError{Path: "delivery.block_timeout", Message: "must not be negative"})
	}
	if d.Overflow != "" {
		if d.MaxDepth == 0 {
			errs = append(errs, &spec.FieldError{Path: "delivery.overflow", Message: "needs delivery.max_depth: overflow says what happens past it"})
		}
		divert, isDivert := d.DivertTo()
		switch {
		case d.Overflow == OverflowReject, d.Overflow == OverflowBlock, d.Overflow == OverflowDropOldest:
		case isDivert:
			if err := ValidateName("delivery.overflow", divert); err != nil {
				errs = append(errs, &spec.FieldError{Path: "delivery.overflow", Message: fmt.Sprintf("divert:<route> names no valid route: %v", err)})
			}
		default:
			errs = append(errs, &spec.FieldError{Path: "delivery.overflow", Message: fmt.Sprintf("%q: use reject, block, drop-oldest or divert:<route>", d.Overflow)})
		}
	}
	return errors.Join(errs...)
}

// validOrderingKey accepts an attribute name or "data." followed by
// dot-separated field names.
func validOrderingKey(k string) bool {
	if path, ok := strings.CutPrefix(k, "data."); ok {
		for _, part := range strings.Split(path, ".") {
			if part == "" {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return k != ""
}
