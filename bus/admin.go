package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/router"
)

// maxAdminBody bounds a route or test-pattern request.
const maxAdminBody = 1 << 20

// Handler returns the bus's whole HTTP API.
func (b *Bus) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /events", b.handleEvents)
	mux.HandleFunc("POST /buses/{bus}/events", b.handleEvents)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", b.handleReady)
	mux.HandleFunc("GET /v1/routes", b.handleListRoutes)
	mux.HandleFunc("GET /v1/routes/{name}", b.handleGetRoute)
	mux.HandleFunc("PUT /v1/routes/{name}", b.handlePutRoute)
	mux.HandleFunc("DELETE /v1/routes/{name}", b.handleDeleteRoute)
	mux.HandleFunc("POST /v1/routes/{name}/signing-secret", b.handleRotateSecret)
	mux.HandleFunc("DELETE /v1/routes/{name}/signing-secret/previous", b.handleExpirePreviousSecret)
	mux.HandleFunc("GET /v1/buses", b.handleListBuses)
	mux.HandleFunc("GET /v1/buses/{name}", b.handleGetBus)
	mux.HandleFunc("PUT /v1/buses/{name}", b.handlePutBus)
	mux.HandleFunc("DELETE /v1/buses/{name}", b.handleDeleteBus)
	mux.HandleFunc("GET /v1/routes/{name}/stats", b.handleStats)
	mux.HandleFunc("GET /v1/routes/{name}/dlq", b.handleListDeadLetters)
	mux.HandleFunc("POST /v1/routes/{name}/dlq/redrive", b.handleRedrive)
	mux.HandleFunc("POST /v1/test-pattern", handleTestPattern)
	return mux
}

// handleReady answers 200 when every backend in use answers a ping.
func (b *Bus) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	failed := map[string]string{}
	for url, be := range b.backends.Opened() {
		if err := be.Ping(ctx); err != nil {
			failed[url] = err.Error()
		}
	}
	if len(failed) > 0 {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "backends": failed})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (b *Bus) handleListRoutes(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]router.Route{"routes": b.Routes()})
}

func (b *Bus) handleGetRoute(w http.ResponseWriter, r *http.Request) {
	route, ok := b.Route(r.PathValue("name"))
	if !ok {
		writeError(w, adapters.Errorf(adapters.NotFound, "route %q does not exist", r.PathValue("name")))
		return
	}
	setETag(w, route.Version)
	writeJSON(w, http.StatusOK, route)
}

func (b *Bus) handlePutRoute(w http.ResponseWriter, r *http.Request) {
	expected, err := ifMatch(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var route router.Route
	if err := decodeStrict(w, r, &route); err != nil {
		writeError(w, err)
		return
	}
	name := r.PathValue("name")
	if route.Name == "" {
		route.Name = name
	}
	if route.Name != name {
		writeError(w, &router.FieldError{Path: "name", Message: fmt.Sprintf("%q differs from the name in the URL, %q", route.Name, name)})
		return
	}
	saved, created, err := b.PutRoute(r.Context(), route, expected)
	if err != nil {
		writeError(w, err)
		return
	}
	setETag(w, saved.Version)
	writeJSON(w, createdOrOK(created), saved)
}

func (b *Bus) handleDeleteRoute(w http.ResponseWriter, r *http.Request) {
	expected, err := ifMatch(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := b.DeleteRoute(r.Context(), r.PathValue("name"), expected); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// rotateSecretRequest is the body of POST /v1/routes/{name}/signing-secret;
// every field is optional.
type rotateSecretRequest struct {
	// Secret is the new secret; empty: the bus generates one and answers it.
	Secret string `json:"secret"`
	// PreviousValidFor is how long the replaced secret keeps signing;
	// unset: DefaultPreviousSecretTTL, "0s": not at all.
	PreviousValidFor *router.Duration `json:"previous_valid_for"`
}

// handleRotateSecret gives a route a new signing secret and answers with the
// route, a generated secret shown in target.http.signing.secret this once.
func (b *Bus) handleRotateSecret(w http.ResponseWriter, r *http.Request) {
	var req rotateSecretRequest
	if r.ContentLength != 0 {
		if err := decodeStrict(w, r, &req); err != nil {
			writeError(w, err)
			return
		}
	}
	var validFor *time.Duration
	if req.PreviousValidFor != nil {
		d := time.Duration(*req.PreviousValidFor)
		validFor = &d
	}
	saved, err := b.RotateSigningSecret(r.Context(), r.PathValue("name"), req.Secret, validFor)
	if err != nil {
		writeError(w, err)
		return
	}
	setETag(w, saved.Version)
	writeJSON(w, http.StatusOK, saved)
}

// handleExpirePreviousSecret stops a route's previous signing secret now.
func (b *Bus) handleExpirePreviousSecret(w http.ResponseWriter, r *http.Request) {
	saved, err := b.ExpirePreviousSecret(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	setETag(w, saved.Version)
	writeJSON(w, http.StatusOK, saved)
}

func (b *Bus) handleListBuses(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]router.Bus{"buses": b.Buses()})
}

func (b *Bus) handleGetBus(w http.ResponseWriter, r *http.Request) {
	bus, ok := b.BusNamed(r.PathValue("name"))
	if !ok {
		writeError(w, adapters.Errorf(adapters.NotFound, "bus %q does not exist", r.PathValue("name")))
		return
	}
	setETag(w, bus.Version)
	writeJSON(w, http.StatusOK, bus)
}

func (b *Bus) handlePutBus(w http.ResponseWriter, r *http.Request) {
	expected, err := ifMatch(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var bus router.Bus
	if err := decodeStrict(w, r, &bus); err != nil {
		writeError(w, err)
		return
	}
	name := r.PathValue("name")
	if bus.Name == "" {
		bus.Name = name
	}
	if bus.Name != name {
		writeError(w, &router.FieldError{Path: "name", Message: fmt.Sprintf("%q differs from the name in the URL, %q", bus.Name, name)})
		return
	}
	saved, created, err := b.PutBus(r.Context(), bus, expected)
	if err != nil {
		writeError(w, err)
		return
	}
	setETag(w, saved.Version)
	writeJSON(w, createdOrOK(created), saved)
}

func (b *Bus) handleDeleteBus(w http.ResponseWriter, r *http.Request) {
	expected, err := ifMatch(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := b.DeleteBus(r.Context(), r.PathValue("name"), expected); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func createdOrOK(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// setETag publishes a resource's version as its entity tag.
func setETag(w http.ResponseWriter, version int64) {
	if version > 0 {
		w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(version, 10)))
	}
}

// ifMatch reads the version a write expects: If-Match: "N" for version N,
// If-None-Match: * for "must not exist yet"; store.AnyVersion when neither
// is sent.
func ifMatch(r *http.Request) (int64, error) {
	if r.Header.Get("If-None-Match") == "*" {
		return store.Absent, nil
	}
	v := r.Header.Get("If-Match")
	if v == "" || v == "*" {
		return store.AnyVersion, nil
	}
	n, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
	if err != nil || n <= 0 {
		return 0, adapters.Errorf(adapters.InvalidArgument, "If-Match %s is not an entity tag this bus gave out (such as \"3\")", v)
	}
	return n, nil
}

// testPatternRequest is the body of POST /v1/test-pattern.
type testPatternRequest struct {
	Match   json.RawMessage `json:"match"`
	Filters json.RawMessage `json:"filters"`
	Event   json.RawMessage `json:"event"`
}

// handleTestPattern says whether an event matches a rule, and why. It
// touches no route: a pure function of its input.
func handleTestPattern(w http.ResponseWriter, r *http.Request) {
	var req testPatternRequest
	if err := decodeStrict(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	ex, err := TestPattern(router.Rule{Match: req.Match, Filters: req.Filters}, req.Event)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ex)
}

// TestPattern validates rule and explains how it treats the event document.
// Bad input is a *router.FieldError naming "match…", "filters…" or "event".
func TestPattern(rule router.Rule, eventDoc []byte) (router.Explanation, error) {
	if err := rule.Validate(router.Limits{}); err != nil {
		return router.Explanation{}, err
	}
	if len(bytes.TrimSpace(eventDoc)) == 0 {
		return router.Explanation{}, &router.FieldError{Path: "event", Message: "is required: the event as JSON, attributes at the top level and the payload under data"}
	}
	ev, err := router.ParseEventJSON(eventDoc)
	if err != nil {
		return router.Explanation{}, &router.FieldError{Path: "event", Message: err.Error()}
	}
	return router.Explain(rule, ev)
}

// decodeStrict reads a JSON body into v, refusing unknown fields so a typo
// is an error rather than a silently ignored setting.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &apiError{Code: codeTooLarge, status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body is over %d bytes", maxAdminBody)}
		}
		if errors.Is(err, io.EOF) {
			return adapters.Errorf(adapters.InvalidArgument, "request body is empty: send a JSON object")
		}
		return adapters.Errorf(adapters.InvalidArgument, "request body: %v", err)
	}
	return nil
}

func (b *Bus) handleStats(w http.ResponseWriter, r *http.Request) {
	st, err := b.Stats(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// handleListDeadLetters pages through a route's dead letters:
// ?limit=50&offset=0 → {"events":[…structured CloudEvents…],"total":n}.
func (b *Bus) handleListDeadLetters(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 50, 1, MaxDeadLetterPage)
	if err != nil {
		writeError(w, err)
		return
	}
	offset, err := queryInt(r, "offset", 0, 0, math.MaxInt32)
	if err != nil {
		writeError(w, err)
		return
	}
	events, total, err := b.DeadLetters(r.Context(), r.PathValue("name"), offset, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events, "total": total})
}

// handleRedrive puts dead letters back: {"ids":[…]} for some, {} for all.
func (b *Bus) handleRedrive(w http.ResponseWriter, r *http.Request) {
	var req struct {
		IDs []string `json:"ids"`
	}
	if r.ContentLength != 0 {
		if err := decodeStrict(w, r, &req); err != nil {
			writeError(w, err)
			return
		}
	}
	n, err := b.Redrive(r.Context(), r.PathValue("name"), req.IDs)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"redriven": n})
}

func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, adapters.Errorf(adapters.InvalidArgument, "query parameter %s=%q must be a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}
