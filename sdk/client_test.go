package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/sdk"
)

func newEvent(id string) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("test")
	e.SetType("test.event")
	return e
}

// fakeBus answers each request with the next of answers and records the
// bodies it received.
type fakeBus struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	bodies  [][]byte
}

func (f *fakeBus) start(t *testing.T, opts sdk.Options) *sdk.Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		n := len(f.bodies)
		f.bodies = append(f.bodies, body)
		answer := f.answers[min(n, len(f.answers)-1)]
		f.mu.Unlock()
		answer(w)
	}))
	t.Cleanup(srv.Close)
	c, err := sdk.New(srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func answer(status int, retryAfter, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

const full = `{"error":{"code":"resource_exhausted","message":"route orders is full"}}`

func TestEmitRetriesWhileTheBusIsFull(t *testing.T) {
	f := &fakeBus{answers: []func(http.ResponseWriter){
		answer(429, "0", full),
		answer(503, "0", `{"error":{"code":"unavailable","message":"backend down"}}`),
		answer(202, "", `{"results":[{"id":"1","source":"test","routes":["orders"]}]}`),
	}}
	c := f.start(t, sdk.Options{})
	res, err := c.Emit(t.Context(), newEvent("1"))
	if err != nil {
		t.Fatalf("Emit = %v; want success after the bus had room again", err)
	}
	if len(res.Routes) != 1 || len(f.bodies) != 3 {
		t.Errorf("result %+v after %d requests; want routes [orders] after 3", res, len(f.bodies))
	}
}

func TestEmitGivesUpAfterRetryFor(t *testing.T) {
	f := &fakeBus{answers: []func(http.ResponseWriter){answer(429, "0", full)}}
	c := f.start(t, sdk.Options{RetryFor: 250 * time.Millisecond})
	start := time.Now()
	_, err := c.Emit(t.Context(), newEvent("1"))
	var e *sdk.Error
	if !errors.As(err, &e) || e.Status != 429 || !sdk.IsRetryable(err) {
		t.Fatalf("Emit = %v; want the bus's 429 as a retryable *sdk.Error", err)
	}
	if took := time.Since(start); took > 2*time.Second || len(f.bodies) < 2 {
		t.Errorf("gave up after %s and %d requests; want a few retries within the 250ms budget", took, len(f.bodies))
	}
}

func TestEmitHonoursRetryAfterWithinCtx(t *testing.T) {
	f := &fakeBus{answers: []func(http.ResponseWriter){answer(429, "30", full)}}
	c := f.start(t, sdk.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Emit(ctx, newEvent("1"))
	if !sdk.IsRetryable(err) || ctx.Err() != nil {
		t.Fatalf("Emit = %v after %s; want the 429 before ctx ends: a 30s Retry-After does not fit in ctx, so waiting for it is pointless", err, time.Since(start))
	}
}

func TestEmitWithRetriesOffReturnsTheRefusal(t *testing.T) {
	f := &fakeBus{answers: []func(http.ResponseWriter){answer(429, "0", full)}}
	c := f.start(t, sdk.Options{RetryFor: -1})
	if _, err := c.Emit(t.Context(), newEvent("1")); !sdk.IsRetryable(err) || len(f.bodies) != 1 {
		t.Fatalf("Emit = %v after %d requests; want the 429 after one", err, len(f.bodies))
	}
}

func TestEmitBatchResendsOnlyRefusedEvents(t *testing.T) {
	f := &fakeBus{answers: []func(http.ResponseWriter){
		answer(202, "", `{"results":[{"id":"a","source":"test","routes":["r"]},{"id":"b","error":{"code":"resource_exhausted","message":"full"}},{"id":"c","error":{"code":"invalid_argument","message":"bad"}}]}`),
		answer(202, "", `{"results":[{"id":"b","source":"test","routes":["r"]}]}`),
	}}
	c := f.start(t, sdk.Options{})
	results, err := c.EmitBatch(t.Context(), []event.Event{newEvent("a"), newEvent("b"), newEvent("c")})
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Error != nil || results[1].Error != nil || !sdk.IsInvalid(results[2].Error) {
		t.Errorf("results = %+v; want a and b stored, c refused as invalid", results)
	}
	var resent []map[string]any
	if err := json.Unmarshal(f.bodies[1], &resent); err != nil || len(resent) != 1 || resent[0]["id"] != "b" {
		t.Errorf("second request = %s; want only event b, the one refused for now", f.bodies[1])
	}
}

func TestErrorsAreTypedAndClassified(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		is         func(error) bool
	}{
		{"invalid names the field", `{"error":{"code":"invalid_argument","message":"bad","fields":[{"path":"type","message":"is required"}]}}`, 400, sdk.IsInvalid},
		{"too large is invalid", `{"error":{"code":"too_large","message":"body too large"}}`, 413, sdk.IsInvalid},
		{"missing route", `{"error":{"code":"not_found","message":"no route"}}`, 404, sdk.IsNotFound},
		{"conflict", `{"error":{"code":"failed_precondition","message":"cannot move"}}`, 409, sdk.IsConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeBus{answers: []func(http.ResponseWriter){answer(tc.status, "", tc.body)}}
			c := f.start(t, sdk.Options{})
			_, err := c.GetRoute(t.Context(), "r")
			var e *sdk.Error
			if !errors.As(err, &e) || e.Status != tc.status || !tc.is(err) {
				t.Fatalf("error %v; want a *sdk.Error with status %d that its helper recognises", err, tc.status)
			}
			if sdk.IsRetryable(err) {
				t.Errorf("%v classified retryable; a %d will not succeed by waiting", err, tc.status)
			}
		})
	}
}
