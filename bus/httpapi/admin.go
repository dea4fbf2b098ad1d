package httpapi

import (
	"cmp"
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

	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus"
	"github.com/eventbus-go/eventbus/bus/console"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// maxAdminBody bounds a route or test-pattern request.
const maxAdminBody = 1 << 20

// MaxDeadLetterPage bounds one page of GET /v1/routes/{name}/dlq.
const MaxDeadLetterPage = 1000

// Handler returns the bus's whole HTTP API. With authentication on, every
// endpoint but /healthz and /readyz needs credentials; each handler then
// checks the right its action needs.
func (b *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	authed := func(pattern string, h http.HandlerFunc) { mux.HandleFunc(pattern, b.authenticated(h)) }
	// Ingress authenticates itself (see handleEvents).
	mux.HandleFunc("POST /events", b.handleEvents)
	mux.HandleFunc("POST /buses/{bus}/events", b.handleEvents)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", b.handleReady)
	// The console's files hold no data: its pages call the API below,
	// with the credential the user gives them.
	mux.Handle("GET "+console.Prefix, console.Handler())
	mux.Handle("GET /console", http.RedirectHandler(console.Prefix, http.StatusMovedPermanently))
	authed("GET /v1/routes", b.handleListRoutes)
	authed("GET /v1/routes/{name}", b.handleGetRoute)
	authed("PUT /v1/routes/{name}", b.handlePutRoute)
	authed("DELETE /v1/routes/{name}", b.handleDeleteRoute)
	authed("POST /v1/routes/{name}/signing-secret", b.handleRotateSecret)
	authed("DELETE /v1/routes/{name}/signing-secret/previous", b.handleExpirePreviousSecret)
	authed("GET /v1/buses", b.handleListBuses)
	authed("GET /v1/buses/{name}", b.handleGetBus)
	authed("PUT /v1/buses/{name}", b.handlePutBus)
	authed("DELETE /v1/buses/{name}", b.handleDeleteBus)
	authed("GET /v1/routes/{name}/stats", b.handleStats)
	authed("GET /v1/routes/{name}/dlq", b.handleListDeadLetters)
	authed("POST /v1/routes/{name}/dlq/redrive", b.handleRedrive)
	authed("POST /v1/routes/{name}/replays", b.handleStartReplay)
	authed("GET /v1/routes/{name}/replays", b.handleListReplays)
	authed("GET /v1/routes/{name}/replays/{id}", b.handleGetReplay)
	authed("DELETE /v1/routes/{name}/replays/{id}", b.handleCancelReplay)
	authed("POST /v1/test-pattern", handleTestPattern)
	authed("GET /v1/events", b.handleLookupEvent)
	authed("GET /v1/buses/{name}/tail", b.handleTail)
	authed("POST /v1/keys", b.handleCreateKey)
	authed("GET /v1/keys", b.handleListKeys)
	authed("DELETE /v1/keys/{name}", b.handleRevokeKey)
	authed("GET /v1/schemas", b.handleListSchemas)
	authed("GET /v1/schemas/{type}", b.handleGetSchema)
	authed("PUT /v1/schemas/{type}", b.handlePutSchema)
	authed("DELETE /v1/schemas/{type}", b.handleDeleteSchema)
	authed("GET /v1/buses/{name}/schemas/inferred", b.handleInferredSchemas)
	authed("GET /v1/schedules", b.handleListSchedules)
	authed("GET /v1/schedules/{name}", b.handleGetSchedule)
	authed("PUT /v1/schedules/{name}", b.handlePutSchedule)
	authed("DELETE /v1/schedules/{name}", b.handleDeleteSchedule)
	authed("GET /metrics", b.metrics.Handler(b.metricsFilter, b.busOfRoute).ServeHTTP)
	return mux
}

// handleReady answers 200 when every backend in use answers a ping, and 503
// once the server is shutting down. It needs
// no credentials, so load balancers can probe it; with authentication on,
// only an authenticated caller learns which backend failed and why.
func (b *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if b.draining.Load() {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	failed := b.Unready(ctx)
	if len(failed) > 0 {
		w.Header().Set("Retry-After", "5")
		if b.Authenticates() {
			if _, err := b.identify(r); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable"})
				return
			}
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "backends": failed})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// handleListRoutes lists the routes of the buses the caller may read.
func (b *Server) handleListRoutes(w http.ResponseWriter, r *http.Request) {
	routes := bus.Readable(r.Context(), b.Bus, b.Routes(), func(rt router.Route) string { return rt.Bus })
	writeJSON(w, http.StatusOK, map[string][]router.Route{"routes": routes})
}

func (b *Server) handleGetRoute(w http.ResponseWriter, r *http.Request) {
	if err := b.AllowOnRoute(r.Context(), r.PathValue("name"), auth.Read); err != nil {
		writeError(w, err)
		return
	}
	route, ok := b.Route(r.PathValue("name"))
	writeFound(w, r, "route", route, route.Version, ok)
}

func (b *Server) handlePutRoute(w http.ResponseWriter, r *http.Request) {
	route, expected, err := readPut(w, r, func(rt *router.Route) *string { return &rt.Name })
	if err != nil {
		writeError(w, err)
		return
	}
	// Moving a route takes manage on the bus it leaves and the one it joins.
	if err := cmp.Or(b.AllowOnRoute(r.Context(), route.Name, auth.Manage),
		b.Allow(r.Context(), cmp.Or(route.Bus, router.DefaultBus), auth.Manage)); err != nil {
		writeError(w, err)
		return
	}
	saved, created, err := b.PutRoute(r.Context(), route, expected)
	writeSaved(w, saved, saved.Version, created, err)
}

func (b *Server) handleDeleteRoute(w http.ResponseWriter, r *http.Request) {
	deleteNamed(w, r, b.AllowOnRoute(r.Context(), r.PathValue("name"), auth.Manage), b.DeleteRoute)
}

// rotateSecretRequest is the body of POST /v1/routes/{name}/signing-secret;
// every field is optional.
type rotateSecretRequest struct {
	// Secret is the new secret; empty: the bus generates one and answers it.
	Secret string `json:"secret"`
	// PreviousValidFor is how long the replaced secret keeps signing;
	// unset: DefaultPreviousSecretTTL, "0s": not at all.
	PreviousValidFor *spec.Duration `json:"previous_valid_for"`
}

// handleRotateSecret gives a route a new signing secret and answers with the
// route, a generated secret shown in target.http.signing.secret this once.
func (b *Server) handleRotateSecret(w http.ResponseWriter, r *http.Request) {
	if err := b.AllowOnRoute(r.Context(), r.PathValue("name"), auth.Manage); err != nil {
		writeError(w, err)
		return
	}
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
func (b *Server) handleExpirePreviousSecret(w http.ResponseWriter, r *http.Request) {
	if err := b.AllowOnRoute(r.Context(), r.PathValue("name"), auth.Manage); err != nil {
		writeError(w, err)
		return
	}
	saved, err := b.ExpirePreviousSecret(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	setETag(w, saved.Version)
	writeJSON(w, http.StatusOK, saved)
}

// handleListBuses lists the buses the caller may read.
func (b *Server) handleListBuses(w http.ResponseWriter, r *http.Request) {
	buses := bus.Readable(r.Context(), b.Bus, b.Buses(), func(bus router.Bus) string { return bus.Name })
	writeJSON(w, http.StatusOK, map[string][]router.Bus{"buses": buses})
}

func (b *Server) handleGetBus(w http.ResponseWriter, r *http.Request) {
	if err := b.Allow(r.Context(), r.PathValue("name"), auth.Read); err != nil {
		writeError(w, err)
		return
	}
	bus, ok := b.BusNamed(r.PathValue("name"))
	writeFound(w, r, "bus", bus, bus.Version, ok)
}

func (b *Server) handlePutBus(w http.ResponseWriter, r *http.Request) {
	bus, expected, err := readPut(w, r, func(rb *router.Bus) *string { return &rb.Name })
	if err != nil {
		writeError(w, err)
		return
	}
	if err := b.AllowPutBus(r.Context(), bus); err != nil {
		writeError(w, err)
		return
	}
	saved, created, err := b.PutBus(r.Context(), bus, expected)
	writeSaved(w, saved, saved.Version, created, err)
}

func (b *Server) handleDeleteBus(w http.ResponseWriter, r *http.Request) {
	deleteNamed(w, r, b.AllowAdmin(r.Context(), "delete", fmt.Sprintf("bus %q", r.PathValue("name"))), b.DeleteBus)
}

// The resources named in their URL (/v1/routes/{name}, /v1/buses/{name})
// share how they are read, written and deleted: an ETag of their version,
// If-Match for the version a write expects, and a document whose name, if
// it has one, is the URL's.

// writeFound answers a GET of the resource of kind named in r's URL: v
// with its ETag, or 404 when it does not exist (ok false).
func writeFound(w http.ResponseWriter, r *http.Request, kind string, v any, version int64, ok bool) {
	if !ok {
		writeError(w, errcode.Errorf(errcode.NotFound, "%s %q does not exist", kind, r.PathValue("name")))
		return
	}
	setETag(w, version)
	writeJSON(w, http.StatusOK, v)
}

// readPut reads a PUT of the resource named in r's URL: the version it
// expects, and the document, whose name (nameOf) is set to the URL's when
// empty and must be the URL's otherwise.
func readPut[T any](w http.ResponseWriter, r *http.Request, nameOf func(*T) *string) (doc T, expected int64, err error) {
	if expected, err = ifMatch(r); err != nil {
		return doc, 0, err
	}
	if err := decodeStrict(w, r, &doc); err != nil {
		return doc, 0, err
	}
	name, want := nameOf(&doc), r.PathValue("name")
	if *name == "" {
		*name = want
	}
	if *name != want {
		return doc, 0, &spec.FieldError{Path: "name", Message: fmt.Sprintf("%q differs from the name in the URL, %q", *name, want)}
	}
	return doc, expected, nil
}

// writeSaved answers a PUT: 201 with the saved resource when it created
// it, 200 when it replaced one, with its ETag; or err.
func writeSaved(w http.ResponseWriter, saved any, version int64, created bool, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	setETag(w, version)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, saved)
}

// deleteNamed answers a DELETE of the resource named in r's URL, which
// the caller may delete when allowed is nil: 204 once del removed the
// version If-Match names.
func deleteNamed(w http.ResponseWriter, r *http.Request, allowed error, del func(ctx context.Context, name string, expected int64) error) {
	if allowed != nil {
		writeError(w, allowed)
		return
	}
	expected, err := ifMatch(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := del(r.Context(), r.PathValue("name"), expected); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
		return 0, errcode.Errorf(errcode.InvalidArgument, "If-Match %s is not an entity tag this bus gave out (such as \"3\")", v)
	}
	return n, nil
}

// testPatternRequest is the body of POST /v1/test-pattern.
type testPatternRequest struct {
	Match     json.RawMessage `json:"match"`
	Filters   json.RawMessage `json:"filters"`
	Transform string          `json:"transform"`
	Event     json.RawMessage `json:"event"`
}

// testPatternAnswer is the answer of POST /v1/test-pattern: whether the
// event matches, and, when a transform is given and it matches, what the
// transform makes of it.
type testPatternAnswer struct {
	router.Explanation
	Transform *router.TransformResult `json:"transform,omitempty"`
}

// handleTestPattern says whether an event matches a rule, and why, and
// what a transform makes of it. It touches no route: a pure function of
// its input.
func handleTestPattern(w http.ResponseWriter, r *http.Request) {
	var req testPatternRequest
	if err := decodeStrict(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	ex, err := router.TestPattern(router.Rule{Match: req.Match, Filters: req.Filters}, req.Event)
	if err != nil {
		writeError(w, err)
		return
	}
	answer := testPatternAnswer{Explanation: ex}
	if req.Transform != "" {
		if answer.Transform, err = router.TryTransform(r.Context(), req.Transform, req.Event); err != nil {
			writeError(w, err)
			return
		}
		if !ex.Matched {
			answer.Transform = nil // the route would not see the event
		}
	}
	writeJSON(w, http.StatusOK, answer)
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
			return errcode.Errorf(errcode.InvalidArgument, "request body is empty: send a JSON object")
		}
		return errcode.Errorf(errcode.InvalidArgument, "request body: %v", err)
	}
	return nil
}

func (b *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	if err := b.AllowOnRoute(r.Context(), r.PathValue("name"), auth.Read); err != nil {
		writeError(w, err)
		return
	}
	st, err := b.Stats(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// handleListDeadLetters pages through a route's dead letters:
// ?limit=50&offset=0 → {"events":[…structured CloudEvents…],"total":n}.
func (b *Server) handleListDeadLetters(w http.ResponseWriter, r *http.Request) {
	if err := b.AllowOnRoute(r.Context(), r.PathValue("name"), auth.Read); err != nil {
		writeError(w, err)
		return
	}
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
func (b *Server) handleRedrive(w http.ResponseWriter, r *http.Request) {
	if err := b.AllowOnRoute(r.Context(), r.PathValue("name"), auth.Redrive); err != nil {
		writeError(w, err)
		return
	}
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
		return 0, errcode.Errorf(errcode.InvalidArgument, "query parameter %s=%q must be a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}
