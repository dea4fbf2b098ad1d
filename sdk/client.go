package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Options configure a Client. Zero values mean the defaults.
type Options struct {
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Bus is the bus events are emitted to; empty means "default".
	Bus string
}

// Client talks to one bus process.
type Client struct {
	base *url.URL
	http *http.Client
	bus  string
}

// New returns a client for the bus at baseURL, such as "http://127.0.0.1:8080".
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sdk: bus URL %q must be an absolute http(s) URL such as http://127.0.0.1:8080", baseURL)
	}
	c := &Client{base: u, http: opts.HTTPClient, bus: opts.Bus}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	return c, nil
}

// Error is an error answer of the bus.
type Error struct {
	Status  int          `json:"-"`
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Fields  []FieldIssue `json:"fields,omitempty"`
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
	Error  *Error   `json:"error,omitempty"`
}

// Emit sends one event in structured mode. It returns nil error only when the
// bus stored the event.
func (c *Client) Emit(ctx context.Context, e event.Event) (EventResult, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return EventResult{}, fmt.Errorf("sdk: encoding event: %w", err)
	}
	results, err := c.emit(ctx, "application/cloudevents+json", body)
	if err != nil {
		return EventResult{}, err
	}
	if len(results) != 1 {
		return EventResult{}, fmt.Errorf("sdk: the bus answered %d results for one event", len(results))
	}
	if results[0].Error != nil {
		return results[0], results[0].Error
	}
	return results[0], nil
}

// EmitBatch sends events in one batch request. The bus accepts or refuses
// each event on its own: check every result's Error. The error return is
// for a request the bus refused as a whole.
func (c *Client) EmitBatch(ctx context.Context, events []event.Event) ([]EventResult, error) {
	body, err := json.Marshal(events)
	if err != nil {
		return nil, fmt.Errorf("sdk: encoding events: %w", err)
	}
	return c.emit(ctx, "application/cloudevents-batch+json", body)
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

// do sends one request and decodes a JSON answer into out. A status of 400
// or more is returned as *Error.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, out any) (int, error) {
	u := c.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, err
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
		return resp.StatusCode, errorFrom(resp.StatusCode, raw, out)
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
