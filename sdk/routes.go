package sdk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Route is a route as the admin API shows it. Match and Filters are JSON
// documents; see the bus's docs/rules.md. Fields the bus fills in with
// defaults come back set.
type Route struct {
	Name    string          `json:"name"`
	Bus     string          `json:"bus,omitempty"`
	Match   json.RawMessage `json:"match,omitempty"`
	Filters json.RawMessage `json:"filters,omitempty"`
	Backend string          `json:"backend,omitempty"`
	Target  Target          `json:"target"`
	// Transform is a jq program that reshapes each event before delivery;
	// see the bus's docs/transforms.md.
	Transform string    `json:"transform,omitempty"`
	Delivery  *Delivery `json:"delivery,omitempty"`
	// Start is where a new route starts taking events: "latest" (the
	// default), "earliest" (everything the bus's archive holds) or an
	// RFC 3339 time. It is read once, when the route is created.
	Start  string `json:"start,omitempty"`
	Paused bool   `json:"paused,omitempty"`
	// Version is set by the bus and bumped on every change. Sent back
	// non-zero in PutRoute, it must still be the stored version, or the bus
	// refuses the write with 409: an update never silently overwrites
	// another.
	Version int64 `json:"version,omitempty"`
	// Origin is "config" for routes from the bus's config file (read-only
	// through the API) and "api" for the others. Set by the bus.
	Origin string `json:"origin,omitempty"`
}

// Target is where a route delivers; set exactly one field.
type Target struct {
	HTTP   *HTTPTarget   `json:"http,omitempty"`
	Plugin *PluginTarget `json:"plugin,omitempty"`
	Topic  *TopicTarget  `json:"topic,omitempty"`
}

// PluginTarget hands events to a handler plugin that the bus config
// declares under plugins (see the bus's docs/plugins.md).
type PluginTarget struct {
	Name string `json:"name"`
}

// TopicTarget publishes events to a topic on a backend, for other systems
// to read, or with a zmq+tcp://host:port URL on a ZeroMQ PUB socket.
type TopicTarget struct {
	// URL names the backend, as a route's backend does, or a ZeroMQ
	// endpoint (zmq+tcp://host:port, ?connect=true to connect).
	URL string `json:"url"`
	// Name is the topic's name on that backend (empty for ZeroMQ).
	Name string `json:"name"`
	// ZeroMQ tunes a zmq+tcp:// target; nil means the defaults.
	ZeroMQ *ZeroMQTopic `json:"zeromq,omitempty"`
}

// ZeroMQTopic tunes a ZeroMQ topic target (see the bus's
// docs/backends/zeromq.md).
type ZeroMQTopic struct {
	// HWM is each subscriber's queue, in events; 0 means 1000.
	HWM int `json:"hwm,omitempty"`
	// WhenFull is "block" (the default) or "drop" (counted in the
	// route's stats as subscriber_drops).
	WhenFull string `json:"when_full,omitempty"`
	// TopicFrame is the first frame, with {type}, {source} and {subject}
	// replaced; empty means "{type}".
	TopicFrame string `json:"topic_frame,omitempty"`
}

// HTTPTarget receives events as CloudEvents HTTP requests in binary mode,
// signed (see VerifyWebhook) unless Signing.Disabled.
type HTTPTarget struct {
	URL     string            `json:"url"`
	Timeout string            `json:"timeout,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Signing *Signing          `json:"signing,omitempty"`
	Auth    *TargetAuth       `json:"auth,omitempty"`
}

// Signing is how the bus signs a route's deliveries (Standard Webhooks).
// Secret is write-only: PutRoute leaves it out to keep the stored one, or
// sets it to replace it (the one before keeps signing for a day). The bus
// never returns it, except once: the answer to the request in which it
// generated it (a new route without one, RotateSigningSecret without one).
type Signing struct {
	Disabled bool   `json:"disabled,omitempty"`
	Secret   string `json:"secret,omitempty"`
	// Set by the bus: which secrets sign, such as "whsec_…x3Zq", and until
	// when the previous one does.
	SecretHint         string    `json:"secret_hint,omitempty"`
	PreviousSecretHint string    `json:"previous_secret_hint,omitempty"`
	PreviousExpires    time.Time `json:"previous_expires,omitzero"`
}

// TargetAuth is how the bus authenticates to an HTTP target; set one field.
// Password, Value and ClientSecret are write-only: never returned, and kept
// when a PutRoute leaves them out.
type TargetAuth struct {
	Basic  *BasicAuth  `json:"basic,omitempty"`
	APIKey *APIKeyAuth `json:"api_key,omitempty"`
	OAuth2 *OAuth2Auth `json:"oauth2,omitempty"`
}

// BasicAuth sends an Authorization: Basic header.
type BasicAuth struct {
	Username string `json:"username"`
	Password string `json:"password,omitempty"`
}

// APIKeyAuth sends one header with a fixed value.
type APIKeyAuth struct {
	Header string `json:"header"`
	Value  string `json:"value,omitempty"`
}

// OAuth2Auth sends a bearer token from the client credentials grant, which
// the bus caches until it expires.
type OAuth2Auth struct {
	TokenURL     string   `json:"token_url"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
}

// Delivery is a route's delivery policy; durations are strings like
// "200ms". The bus's docs/routes.md describes each field and its default.
type Delivery struct {
	MaxAttempts  int      `json:"max_attempts,omitempty"`
	MaxAge       string   `json:"max_age,omitempty"`
	Backoff      *Backoff `json:"backoff,omitempty"`
	DeadLetter   *bool    `json:"dead_letter,omitempty"`
	ClientErrors string   `json:"client_errors,omitempty"`
	MaxInflight  int      `json:"max_inflight,omitempty"`
	OrderingKey  string   `json:"ordering_key,omitempty"`
	Rate         string   `json:"rate,omitempty"`
	Delay        string   `json:"delay,omitempty"`
	MaxDepth     int      `json:"max_depth,omitempty"`
	Overflow     string   `json:"overflow,omitempty"`
	BlockTimeout string   `json:"block_timeout,omitempty"`
	// Batch sends an HTTP target several events per request.
	Batch *Batch `json:"batch,omitempty"`
}

// Batch bounds the batches of a route with an HTTP target: events and body
// bytes per request, and how long a batch waits for more ("10ms").
type Batch struct {
	MaxEvents int    `json:"max_events,omitempty"`
	MaxBytes  int    `json:"max_bytes,omitempty"`
	MaxWait   string `json:"max_wait,omitempty"`
}

// Backoff bounds the wait between delivery attempts.
type Backoff struct {
	Initial string `json:"initial,omitempty"`
	Max     string `json:"max,omitempty"`
}

// ListRoutes returns every route of the bus process, sorted by name.
func (c *Client) ListRoutes(ctx context.Context) ([]Route, error) {
	var out struct {
		Routes []Route `json:"routes"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v1/routes", "", nil, &out)
	return out.Routes, err
}

// GetRoute returns one route; a missing one is an *Error with Status 404.
func (c *Client) GetRoute(ctx context.Context, name string) (Route, error) {
	var out Route
	_, err := c.do(ctx, http.MethodGet, "/v1/routes/"+url.PathEscape(name), "", nil, &out)
	return out, err
}

// PutRoute creates or replaces the route r.Name and returns it as saved.
// With r.Version set, the write succeeds only if the stored route still has
// that version (else *Error with Status 409).
func (c *Client) PutRoute(ctx context.Context, r Route) (Route, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return Route{}, err
	}
	var out Route
	_, err = c.do(ctx, http.MethodPut, "/v1/routes/"+url.PathEscape(r.Name), "application/json", body, &out)
	return out, err
}

// CreateRoute creates the route r.Name and returns it as saved, but never
// replaces one: if the bus already has a route of that name (made through
// the API or by its config file), nothing changes and the error is an
// *Error with Status 409 (IsConflict). The check and the write are one
// request (If-None-Match: *), so two callers racing to create the same
// route cannot both succeed. r.Version is ignored.
func (c *Client) CreateRoute(ctx context.Context, r Route) (Route, error) {
	r.Version = 0
	body, err := json.Marshal(r)
	if err != nil {
		return Route{}, err
	}
	var out Route
	_, err = c.send(ctx, http.MethodPut, "/v1/routes/"+url.PathEscape(r.Name), http.Header{"If-None-Match": {"*"}}, "application/json", body, &out)
	return out, err
}

// DeleteRoute removes a route and the events waiting in its channels.
// Routes other routes divert to, and routes from the config file, are
// refused with 409.
func (c *Client) DeleteRoute(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/routes/"+url.PathEscape(name), "", nil, nil)
	return err
}

// SecretRotation asks for a new signing secret; zero fields mean: the bus
// generates the secret, and the one it replaces keeps signing for a day.
type SecretRotation struct {
	// Secret is the new secret ("whsec_" + base64 of 24-64 bytes).
	Secret string `json:"secret,omitempty"`
	// PreviousValidFor, such as "1h", is how long the replaced secret keeps
	// signing; "0s" stops it at once.
	PreviousValidFor string `json:"previous_valid_for,omitempty"`
}

// RotateSigningSecret gives a route a new signing secret and returns the
// route; a secret the bus generated is in Target.HTTP.Signing.Secret, the
// only time it is shown. Both secrets sign until the previous one expires.
func (c *Client) RotateSigningSecret(ctx context.Context, name string, rot SecretRotation) (Route, error) {
	body, err := json.Marshal(rot)
	if err != nil {
		return Route{}, err
	}
	var out Route
	_, err = c.do(ctx, http.MethodPost, "/v1/routes/"+url.PathEscape(name)+"/signing-secret", "application/json", body, &out)
	return out, err
}

// ExpirePreviousSecret stops a route's previous signing secret from signing
// now, before its overlap would end.
func (c *Client) ExpirePreviousSecret(ctx context.Context, name string) (Route, error) {
	var out Route
	_, err := c.do(ctx, http.MethodDelete, "/v1/routes/"+url.PathEscape(name)+"/signing-secret/previous", "", nil, &out)
	return out, err
}

// PatternResult says whether an event matches a rule, and why.
type PatternResult struct {
	Matched bool     `json:"matched"`
	Reason  string   `json:"reason"`
	Held    []string `json:"held,omitempty"`
}

// TestPattern asks the bus whether event (a JSON document) matches the rule.
func (c *Client) TestPattern(ctx context.Context, match, filters, event json.RawMessage) (PatternResult, error) {
	req := map[string]json.RawMessage{"event": event}
	if len(match) > 0 {
		req["match"] = match
	}
	if len(filters) > 0 {
		req["filters"] = filters
	}
	body, err := json.Marshal(req)
	if err != nil {
		return PatternResult{}, err
	}
	var out PatternResult
	_, err = c.do(ctx, http.MethodPost, "/v1/test-pattern", "application/json", body, &out)
	return out, err
}
