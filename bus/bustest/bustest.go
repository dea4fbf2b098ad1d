// Package bustest runs a bus inside a test, with what a test needs around
// it: Start serves a bus on a loopback port until the test ends, Webhook is
// an HTTP target that records what it is delivered, and Emit posts one
// event in CloudEvents binary mode.
//
// Everything a helper starts is stopped by t.Cleanup; a bus that cannot
// start, or that stops with an error, fails the test. Serve is Start for
// code without a *testing.T (an Example), which closes the bus itself.
package bustest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/httpapi"
	"github.com/eventbus-go/eventbus/internal/testkit"
)

// Server is a bus serving its HTTP API on a loopback port.
type Server struct {
	// URL is the bus's base URL: https:// when the config turns TLS on.
	URL string
	Bus *bus.Bus

	cancel context.CancelFunc
	done   <-chan error
	once   sync.Once
}

// Start runs a bus with cfg on a random loopback port until the test ends,
// or until Close. It fails the test when the bus cannot start, or stops
// with an error.
func Start(t testing.TB, cfg bus.Config) *Server {
	t.Helper()
	s, err := Serve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stopping the bus: %v", err)
		}
	})
	return s
}

// Serve is Start for code without a *testing.T (an Example): the caller
// must Close the server. Its log is discarded.
func Serve(cfg bus.Config) (*Server, error) {
	ctx, cancel := context.WithCancel(context.Background())
	b, err := httpapi.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("httpapi.New: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, ln) }()
	s := &Server{URL: "http://" + ln.Addr().String(), Bus: b.Bus, cancel: cancel, done: done}
	if cfg.TLS.Enabled() {
		s.URL = "https://" + ln.Addr().String()
	}
	return s, nil
}

// Close shuts the bus down as Run does when its context ends (ingress, then
// dispatchers, then channels), waits until it has, and returns what Run
// returned. Only the first call does anything; later ones return nil, so a
// test may close a bus early and leave the cleanup to Start.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		err = <-s.done
	})
	return err
}

// Delivery is one request a Webhook recorded.
type Delivery struct {
	Header http.Header
	Body   []byte
}

// Webhook is an HTTP target that records the deliveries it accepts.
type Webhook struct {
	// URL is where the webhook listens, for a route's target.
	URL string

	mu      sync.Mutex
	calls   int
	got     []Delivery
	next    int // the index Next returns
	respond func(call int) int
}

// NewWebhook serves a webhook until the test ends. respond chooses the
// status of each call, numbered from 1 (nil answers 200 to all); only calls
// answered 2xx are recorded, as only those count as delivered.
func NewWebhook(t testing.TB, respond func(call int) int) *Webhook {
	t.Helper()
	w := &Webhook{respond: respond}
	srv := httptest.NewServer(http.HandlerFunc(w.serve))
	t.Cleanup(srv.Close)
	w.URL = srv.URL
	return w
}

func (w *Webhook) serve(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	w.calls++
	status := http.StatusOK
	if w.respond != nil {
		status = w.respond(w.calls)
	}
	if status < 300 {
		w.got = append(w.got, Delivery{Header: r.Header.Clone(), Body: body})
	}
	w.mu.Unlock()
	rw.WriteHeader(status)
}

// Deliveries returns what the webhook recorded so far, in order of arrival.
func (w *Webhook) Deliveries() []Delivery {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Delivery(nil), w.got...)
}

// WaitFor waits up to DeliveryTimeout until the webhook recorded n
// deliveries and returns the first n.
func (w *Webhook) WaitFor(t testing.TB, n int) []Delivery {
	t.Helper()
	var got []Delivery
	testkit.EventuallyNoError(t, DeliveryTimeout, func() error {
		if got = w.Deliveries(); len(got) < n {
			return fmt.Errorf("%d of %d deliveries: an accepted event never reached the target", len(got), n)
		}
		return nil
	})
	return got[:n]
}

// Next waits up to DeliveryTimeout for the delivery after the one Next
// returned last (the first, on the first call) and returns it.
func (w *Webhook) Next(t testing.TB) Delivery {
	t.Helper()
	w.mu.Lock()
	i := w.next
	w.next++
	w.mu.Unlock()
	return w.WaitFor(t, i+1)[i]
}

// DeliveryTimeout is how long Webhook waits for a delivery.
const DeliveryTimeout = 10 * time.Second

// Emit posts one event to the bus at base in binary mode: ce-id id,
// ce-source /src, ce-type t and the data {"n":"<id>"} as application/json.
// headers are set over those ("" removes one). It fails the test unless the
// bus answers 202, and returns the answer's body.
func Emit(t testing.TB, base, id string, headers map[string]string) string {
	t.Helper()
	status, body, err := PostEvent(base, id, headers)
	if err != nil {
		t.Fatalf("emit %s: %v", id, err)
	}
	if status != http.StatusAccepted {
		t.Fatalf("emit %s: %d %s; want 202", id, status, body)
	}
	return body
}

// PostEvent posts the event Emit does and returns the bus's answer without
// judging it, for tests that expect a refusal or retry until accepted.
func PostEvent(base, id string, headers map[string]string) (status int, body string, err error) {
	req, err := http.NewRequest(http.MethodPost, base+"/events", strings.NewReader(`{"n":"`+id+`"}`))
	if err != nil {
		return 0, "", err
	}
	h := map[string]string{
		"Content-Type":   "application/json",
		"Ce-Specversion": "1.0",
		"Ce-Id":          id,
		"Ce-Source":      "/src",
		"Ce-Type":        "t",
	}
	for k, v := range headers {
		h[http.CanonicalHeaderKey(k)] = v
	}
	for k, v := range h {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
