package sdk

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// DefaultRetryFor is how long Emit and EmitBatch keep retrying events the
// bus refused for now, when Options.RetryFor is zero.
const DefaultRetryFor = 30 * time.Second

// Options configure a Client. Zero values mean the defaults.
type Options struct {
	// HTTPClient sends the requests; nil means http.DefaultClient, or a
	// client trusting CAFile.
	HTTPClient *http.Client
	// CAFile names a PEM file of the CAs that sign the bus's certificate,
	// for an https:// bus whose certificate the system's CAs do not
	// vouch for; empty means the system's CAs. It cannot be combined with
	// HTTPClient: set RootCAs in that client's transport instead.
	CAFile string
	// Bus is the bus events are emitted to; empty means "default".
	Bus string
	// RetryFor bounds how long Emit and EmitBatch retry events the bus
	// refused for now (429: a route is full; 503: a backend is down),
	// waiting as its Retry-After says; zero means DefaultRetryFor, a
	// negative value turns retries off. The call's ctx bounds it too.
	// Retrying is safe: the bus drops a repeat of an event's (source, id).
	RetryFor time.Duration
	// Token is the API key or OIDC token sent as Authorization: Bearer on
	// every request; empty sends none (a bus without auth).
	Token string
}

// Client talks to one bus process. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	http     *http.Client
	bus      string
	retryFor time.Duration
	// authorization is the Authorization header, or empty.
	authorization string
}

// New returns a client for the bus at baseURL, such as "http://127.0.0.1:8080".
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sdk: bus URL %q must be an absolute http(s) URL such as http://127.0.0.1:8080", baseURL)
	}
	c := &Client{base: u, http: opts.HTTPClient, bus: opts.Bus, retryFor: opts.RetryFor}
	if opts.Token != "" {
		c.authorization = "Bearer " + opts.Token
	}
	switch {
	case opts.CAFile != "" && opts.HTTPClient != nil:
		return nil, errors.New("sdk: Options.CAFile and Options.HTTPClient are exclusive: trust the CA in the HTTPClient's transport")
	case opts.CAFile != "":
		if c.http, err = trustingClient(opts.CAFile); err != nil {
			return nil, err
		}
	case c.http == nil:
		c.http = http.DefaultClient
	}
	if c.retryFor == 0 {
		c.retryFor = DefaultRetryFor
	}
	return c, nil
}

// trustingClient returns an HTTP client that trusts only the CAs in
// caFile.
func trustingClient(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("sdk: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("sdk: CA file %s holds no PEM certificate", caFile)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}, nil
}

// Error is an error answer of the bus: for a whole request, with its HTTP
// Status, or for one event of an emit (EventResult.Error), with Status 0.
// Test it with errors.As or the Is… helpers.
type Error struct {
	Status  int          `json:"-"`
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Fields  []FieldIssue `json:"fields,omitempty"`
	// RetryAfter is the bus's Retry-After, with a 429 or 503.
	RetryAfter time.Duration `json:"-"`
}

// The bus's error codes (Error.Code).
const (
	CodeInvalidArgument    = "invalid_argument"
	CodeNotFound           = "not_found"
	CodeFailedPrecondition = "failed_precondition"
	CodeResourceExhausted  = "resource_exhausted"
	CodeUnavailable        = "unavailable"
	CodeTooLarge           = "too_large"
	CodeUnsupportedMedia   = "unsupported_media_type"
	CodeUnauthenticated    = "unauthenticated"
	CodePermissionDenied   = "permission_denied"
)

// IsInvalid reports whether the bus refused a request or an event as
// malformed (400, 413, 415): fix it rather than retry. Error.Fields names
// the fields at fault.
func IsInvalid(err error) bool {
	return hasCode(err, CodeInvalidArgument, CodeTooLarge, CodeUnsupportedMedia) ||
		hasStatus(err, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
}

// IsNotFound reports whether what the request named (a route) does not
// exist.
func IsNotFound(err error) bool {
	return hasCode(err, CodeNotFound) || hasStatus(err, http.StatusNotFound)
}

// IsConflict reports whether the bus refused a change in its current state
// (409), such as moving a route to another backend.
func IsConflict(err error) bool {
	return hasCode(err, CodeFailedPrecondition) || hasStatus(err, http.StatusConflict)
}

// IsRetryable reports whether the bus refused for now (429, 503): the same
// request may succeed later. Emit and EmitBatch already retried it for
// Options.RetryFor.
func IsRetryable(err error) bool {
	return hasCode(err, CodeResourceExhausted, CodeUnavailable) ||
		hasStatus(err, http.StatusTooManyRequests, http.StatusServiceUnavailable)
}

// IsUnauthenticated reports whether the bus refused the request's
// credentials (401): none were sent, or the key or token is wrong, revoked
// or expired. Set Options.Token.
func IsUnauthenticated(err error) bool {
	return hasCode(err, CodeUnauthenticated) || hasStatus(err, http.StatusUnauthorized)
}

// IsPermissionDenied reports whether the caller lacks the right to do
// what it asked (403); Error.Message names the action and the bus.
func IsPermissionDenied(err error) bool {
	return hasCode(err, CodePermissionDenied) || hasStatus(err, http.StatusForbidden)
}

func hasCode(err error, codes ...string) bool {
	var e *Error
	return errors.As(err, &e) && slices.Contains(codes, e.Code)
}

func hasStatus(err error, statuses ...int) bool {
	var e *Error
	return errors.As(err, &e) && slices.Contains(statuses, e.Status)
}

// FieldIssue names one bad field of a request.
type FieldIssue struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("eventbus: %d %s: %s", e.Status, e.Code, e.Message)
}

// EventResult is the bus's answer for one emitted event: the routes that
// stored it, or why it was refused.
type EventResult struct {
	ID     string   `json:"id"`
	Source string   `json:"source"`
	Routes []string `json:"routes,omitempty"`
	// Overflow says what happened at matching routes that were full: the
	// event diverted, the oldest event dropped, or ingress blocked a while.
	Overflow []OverflowAction `json:"overflow,omitempty"`
	Error    *Error           `json:"error,omitempty"`
}

// OverflowAction is one full route's overflow policy at work on an event.
type OverflowAction struct {
	Route  string `json:"route"`
	Action string `json:"action"`           // "divert", "drop-oldest" or "block"
	To     string `json:"to,omitempty"`     // with divert: the route that stored the event
	Waited string `json:"waited,omitempty"` // with block: how long ingress waited, e.g. "120ms"
}

// Emit sends one event in structured mode. It returns nil error only when
// the bus stored the event; an event the bus refused for now is retried
// for Options.RetryFor, as its Retry-After says.
func (c *Client) Emit(ctx context.Context, e event.Event) (EventResult, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return EventResult{}, fmt.Errorf("sdk: encoding event: %w", err)
	}
	r := c.newRetrier()
	for {
		results, err := c.emit(ctx, "application/cloudevents+json", body)
		if err == nil && len(results) != 1 {
			return EventResult{}, fmt.Errorf("sdk: the bus answered %d results for one event", len(results))
		}
		if err == nil && results[0].Error != nil {
			err = results[0].Error
		}
		if err == nil || !IsRetryable(err) || !r.wait(ctx, err) {
			if len(results) == 1 {
				return results[0], err
			}
			return EventResult{}, err
		}
	}
}

// EmitBatch sends events in one batch request. The bus accepts or refuses
// each event on its own: check every result's Error. Events refused for
// now are sent again, alone in a smaller batch, for Options.RetryFor. The
// error return is for a request the bus refused as a whole.
func (c *Client) EmitBatch(ctx context.Context, events []event.Event) ([]EventResult, error) {
	out := make([]EventResult, len(events))
	pending := make([]int, len(events)) // indexes into events still to send
	for i := range pending {
		pending[i] = i
	}
	r := c.newRetrier()
	for {
		batch := make([]event.Event, len(pending))
		for j, i := range pending {
			batch[j] = events[i]
		}
		body, err := json.Marshal(batch)
		if err != nil {
			return nil, fmt.Errorf("sdk: encoding events: %w", err)
		}
		results, err := c.emit(ctx, "application/cloudevents-batch+json", body)
		if err != nil && len(results) == 0 {
			if IsRetryable(err) && r.wait(ctx, err) {
				continue
			}
			return nil, err
		}
		if len(results) != len(pending) {
			return nil, fmt.Errorf("sdk: the bus answered %d results for %d events", len(results), len(pending))
		}
		var again []int
		var refusal error
		for j, i := range pending {
			out[i] = results[j]
			if results[j].Error != nil && IsRetryable(results[j].Error) {
				again = append(again, i)
				refusal = results[j].Error
			}
		}
		if len(again) == 0 || !r.wait(ctx, refusal) {
			return out, nil
		}
		pending = again
	}
}

// retrier paces the retries of one Emit or EmitBatch call.
type retrier struct {
	deadline time.Time
	backoff  time.Duration
}

func (c *Client) newRetrier() *retrier {
	if c.retryFor < 0 {
		return &retrier{}
	}
	return &retrier{deadline: time.Now().Add(c.retryFor), backoff: 100 * time.Millisecond}
}

// wait sleeps before the next attempt: as long as the refusal's Retry-After
// says, else an exponential backoff from 100 ms to 5 s. It reports false,
// without waiting, when that would end past the retry budget or ctx.
func (r *retrier) wait(ctx context.Context, refusal error) bool {
	d := r.backoff
	r.backoff = min(2*r.backoff, 5*time.Second)
	var e *Error
	if errors.As(refusal, &e) && e.RetryAfter > 0 {
		d = e.RetryAfter
	}
	until := time.Now().Add(d)
	if until.After(r.deadline) {
		return false
	}
	if dl, ok := ctx.Deadline(); ok && until.After(dl) {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *Client) emit(ctx context.Context, contentType string, body []byte) ([]EventResult, error) {
	path := "/events"
	if c.bus != "" {
		path = "/buses/" + url.PathEscape(c.bus) + "/events"
	}
	var resp struct {
		Results []EventResult `json:"results"`
	}
	status, err := c.do(ctx, http.MethodPost, path, contentType, body, &resp)
	if err != nil {
		var apiErr *Error
		// A whole-request failure that still lists results (nothing stored).
		if errors.As(err, &apiErr) && len(resp.Results) > 0 {
			return resp.Results, err
		}
		return nil, err
	}
	if status != http.StatusAccepted {
		return nil, fmt.Errorf("sdk: the bus answered %d to an emit, expected 202", status)
	}
	return resp.Results, nil
}

// do sends one request and decodes a JSON answer into out. path is
// escaped and may end in a query. A status of 400 or more is returned as
// *Error.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, out any) (int, error) {
	return c.send(ctx, method, path, nil, contentType, body, out)
}

// send is do with header added to the request, such as the conditions
// If-Match and If-None-Match.
func (c *Client) send(ctx context.Context, method, path string, header http.Header, contentType string, body []byte, out any) (int, error) {
	p, query, _ := strings.Cut(path, "?")
	u := c.base.JoinPath(p)
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	maps.Copy(req.Header, header)
	if c.authorization != "" {
		req.Header.Set("Authorization", c.authorization)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("sdk: %s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("sdk: reading answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		e := errorFrom(resp.StatusCode, raw, out)
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
		return resp.StatusCode, e
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("sdk: decoding answer to %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// errorFrom reads an error answer: {"error":{…}}, or for an emit whose
// events were all refused, the results (decoded into out) with the first
// event's error.
func errorFrom(status int, raw []byte, out any) *Error {
	var answer struct {
		Error   *Error        `json:"error"`
		Results []EventResult `json:"results"`
	}
	_ = json.Unmarshal(raw, &answer)
	e := answer.Error
	if e == nil && len(answer.Results) > 0 {
		if out != nil {
			_ = json.Unmarshal(raw, out)
		}
		e = answer.Results[0].Error
	}
	if e == nil {
		e = &Error{Code: fmt.Sprintf("http_%d", status), Message: strings.TrimSpace(string(raw))}
	}
	e.Status = status
	return e
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
