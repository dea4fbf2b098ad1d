package httpapi

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/tracing"
	"github.com/eventbus-go/eventbus/router"
)

// acceptedEvent and rejectedEvent are the per-event results of a 202.
type acceptedEvent struct {
	ID     string   `json:"id"`
	Source string   `json:"source"`
	Routes []string `json:"routes"`
	// Overflow says what happened at routes that were full.
	Overflow []bus.OverflowAction `json:"overflow,omitempty"`
}

type rejectedEvent struct {
	ID     string    `json:"id"`
	Source string    `json:"source,omitempty"`
	Error  *apiError `json:"error"`
}

type ingressResponse struct {
	Results []any `json:"results"`
}

// handleEvents is the ingress: it reads the events of one request and
// hands them to the bus's Ingest. It answers 202 once every event it
// reports as accepted is stored; when none was, the status is that of the
// first event's error.
func (b *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	b.serveIngress(w, r, cmp.Or(r.PathValue("bus"), router.DefaultBus))
}

// serveIngress is handleEvents for events to busName, on either server
// (see fastLane).
func (b *Server) serveIngress(w http.ResponseWriter, r *http.Request, busName string) {
	start := time.Now()
	defer b.metrics.Ingress.Answered(start)
	// Ingress authenticates itself rather than through b.authenticated,
	// sparing its hot path a copy of the request.
	ctx := r.Context()
	if b.Traces() {
		ctx = tracing.FromHeader(ctx, r.Header)
	}
	if b.Authenticates() {
		id, err := b.identify(r)
		if err != nil {
			b.refuse(w, busName, err)
			return
		}
		ctx = auth.NewContext(ctx, id)
	}
	if err := b.CheckIngress(ctx, busName); err != nil {
		b.refuse(w, busName, err)
		return
	}
	body, aerr := readBody(w, r, b.Config().MaxBodyBytes)
	if aerr != nil {
		b.refuse(w, busName, aerr)
		return
	}
	decoded, aerr := decodeRequest(r.Header, body)
	if aerr != nil {
		b.refuse(w, busName, aerr)
		return
	}
	events := make([]*event.Event, 0, len(decoded))
	for _, d := range decoded {
		if d.err == nil {
			events = append(events, d.event)
		}
	}
	// Ingest validates the events, and checks every one against the
	// caller's emit grants before it stores any.
	stored, err := b.Ingest(ctx, busName, events)
	if err != nil {
		b.refuse(w, busName, err)
		return
	}
	if len(stored) == len(decoded) && plain(stored) {
		b.metrics.Ingress.Accepted(busName, len(stored))
		writeAccepted(w, stored)
		return
	}

	results := make([]any, len(decoded))
	var first *apiError // of the first event, when no event was stored
	allRejected := true
	next := 0
	for i, d := range decoded {
		if d.err != nil {
			results[i] = rejectedEvent{ID: d.id, Source: d.source, Error: d.err}
		} else {
			results[i] = answer(stored[next])
			next++
		}
		rej, ok := results[i].(rejectedEvent)
		if !ok {
			allRejected = false
			b.metrics.Ingress.Accepted(busName, 1)
			continue
		}
		b.metrics.Ingress.Rejected(busName, rej.Error.Code, 1)
		if first == nil {
			first = rej.Error
		}
	}
	status := http.StatusAccepted
	if allRejected && first != nil { // nothing was stored: no 2xx
		status = first.status
		setRetryAfter(w, status)
	}
	writeJSON(w, status, ingressResponse{Results: results})
}

// refuse answers a request refused before any of its events was stored,
// and counts it as one rejected event: its events may not have been read.
// A bus that does not exist is counted as bus "", so callers cannot grow
// the metrics with names of their choosing.
func (b *Server) refuse(w http.ResponseWriter, busName string, err error) {
	ae := toAPIError(err)
	if _, exists := b.BusNamed(busName); !exists {
		busName = ""
	}
	b.metrics.Ingress.Rejected(busName, ae.Code, 1)
	writeError(w, ae)
}

// answer is one event's result as the ingress reports it.
func answer(res bus.Result) any {
	if res.Err != nil {
		return rejectedEvent{ID: res.ID, Source: res.Source, Error: toAPIError(res.Err)}
	}
	return acceptedEvent{ID: res.ID, Source: res.Source, Routes: res.Routes, Overflow: res.Overflow}
}

func setRetryAfter(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(1))
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(5))
	}
}

// setWWWAuthenticate tells a client refused with 401 how to authenticate
// (RFC 6750).
func setWWWAuthenticate(w http.ResponseWriter, ae *apiError) {
	switch ae.bearerError {
	case "":
	case "-":
		w.Header().Set("WWW-Authenticate", `Bearer realm="eventbus"`)
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="eventbus", error="`+ae.bearerError+`"`)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	ae := toAPIError(err)
	setRetryAfter(w, ae.status)
	setWWWAuthenticate(w, ae)
	writeJSON(w, ae.status, map[string]*apiError{"error": ae})
}
