package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"gocloud.dev/pubsub"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
)

// acceptedEvent and rejectedEvent are the per-event results of a 202.
type acceptedEvent struct {
	ID     string   `json:"id"`
	Source string   `json:"source"`
	Routes []string `json:"routes"`
	// Overflow says what happened at routes that were full.
	Overflow []overflowAction `json:"overflow,omitempty"`
}

// overflowAction is one full route's overflow policy at work.
type overflowAction struct {
	Route  string `json:"route"`
	Action string `json:"action"`           // "divert", "drop-oldest" or "block"
	To     string `json:"to,omitempty"`     // with divert: where the event went
	Waited string `json:"waited,omitempty"` // with block: how long ingress waited
}

type rejectedEvent struct {
	ID     string    `json:"id"`
	Source string    `json:"source,omitempty"`
	Error  *apiError `json:"error"`
}

type ingressResponse struct {
	Results []any `json:"results"`
}

// handleEvents is the ingress: it reads the events of one request, matches
// each against the bus's routes and stores it on every matching route's
// channel. It answers 202 once every event it reports as accepted is stored.
func (b *Bus) handleEvents(w http.ResponseWriter, r *http.Request) {
	busName := r.PathValue("bus")
	if busName == "" {
		busName = router.DefaultBus
	}
	routes := b.state.Load().buses[busName]
	// Ingress authenticates itself rather than through b.authenticated,
	// sparing its hot path a copy of the request; an unknown caller learns
	// nothing, not even whether the bus exists.
	var id *auth.Identity
	if b.access != nil {
		var err error
		if id, err = b.access.identify(r); err != nil {
			writeError(w, err)
			return
		}
		var acl *auth.ACL
		if routes != nil {
			acl = routes.acl
		}
		if err := b.access.policy.Allow(id, busName, acl, auth.Emit); err != nil {
			writeError(w, err)
			return
		}
	}
	if routes == nil {
		writeError(w, &apiError{Code: errcode.NotFound.String(), status: http.StatusNotFound,
			Message: fmt.Sprintf("bus %q does not exist: create a route with bus: %s first", busName, busName)})
		return
	}
	body, aerr := readBody(w, r, b.cfg.MaxBodyBytes)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	events, aerr := decodeRequest(r.Header, body)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if b.access != nil { // every event is checked before any is stored
		for _, d := range events {
			if d.err != nil {
				continue
			}
			if err := b.access.policy.AllowEvent(id, busName, routes.acl, d.event.Type(), d.event.Source()); err != nil {
				writeError(w, err)
				return
			}
		}
	}

	results := make([]any, len(events))
	if len(events) == 1 {
		results[0] = b.storeOnce(r.Context(), busName, routes, events[0])
	} else {
		var wg sync.WaitGroup
		for i, d := range events {
			wg.Go(func() { results[i] = b.storeOnce(r.Context(), busName, routes, d) })
		}
		wg.Wait()
	}

	status := http.StatusAccepted
	var first *apiError
	for _, res := range results {
		rej, ok := res.(rejectedEvent)
		if !ok {
			first = nil
			break
		}
		if first == nil {
			first = rej.Error
		}
	}
	if first != nil { // nothing was stored: no 2xx
		status = first.status
		setRetryAfter(w, status)
	}
	writeResults(w, status, results)
}

// ingest stores events a handler emitted, as ingress would: validated,
// deduplicated and matched on the bus. It fails if any event was not stored.
func (b *Bus) ingest(ctx context.Context, busName string, events []event.Event) error {
	routes := b.state.Load().buses[busName]
	if routes == nil {
		return errcode.Errorf(errcode.NotFound, "bus %q has no routes any more", busName)
	}
	for i := range events {
		res := b.storeOnce(ctx, busName, routes, validated(&events[i]))
		if rej, ok := res.(rejectedEvent); ok {
			return fmt.Errorf("reply %s: %s", rej.ID, rej.Error.Message)
		}
	}
	return nil
}

// storeOnce stores an event unless the same (source, id) was stored on this
// bus within the dedup window, in which case it answers as the first time.
func (b *Bus) storeOnce(ctx context.Context, busName string, br *busRoutes, d decoded) any {
	if d.err != nil {
		return rejectedEvent{ID: d.id, Source: d.source, Error: d.err}
	}
	key := b.dedup.key(busName, d.source, d.id)
	earlier, first, err := b.dedup.begin(ctx, key)
	if err != nil {
		return rejectedEvent{ID: d.id, Source: d.source, Error: toAPIError(errcode.Errorf(errcode.Unavailable, "waiting for the first copy of this event: %w", err))}
	}
	if !first {
		return earlier
	}
	result := br.store(ctx, d)
	_, stored := result.(acceptedEvent)
	b.dedup.finish(key, result, stored)
	return result
}

// placement is where one matched route's copy of an event goes, after its
// overflow policy.
type placement struct {
	route    *liveRoute // the route that stores it (the divert route, after a divert)
	overflow *overflowAction
}

// store matches one event and publishes it to every matching route's
// channel, returning its result.
func (br *busRoutes) store(ctx context.Context, d decoded) any {
	e := d.event
	reject := func(err error) any { return rejectedEvent{ID: d.id, Source: d.source, Error: toAPIError(err)} }
	names := br.matcher.Match(router.NewEvent(e))
	accepted := acceptedEvent{ID: d.id, Source: d.source, Routes: []string{}}
	if len(names) == 0 {
		return accepted
	}
	msg, err := adapters.EncodeEvent(e)
	if err != nil {
		return reject(err)
	}
	msg.Metadata[adapters.MetaAcceptedAt] = strconv.FormatInt(time.Now().UnixMilli(), 10)

	placements := make([]placement, 0, len(names))
	release := func() {
		for _, p := range placements {
			p.route.admission.release()
		}
	}
	for _, name := range names {
		p, err := br.admit(ctx, br.routes[name])
		if err != nil {
			release()
			return reject(err)
		}
		placements = append(placements, p)
	}
	if err := publish(ctx, e, msg, placements); err != nil {
		release()
		return reject(err)
	}
	for _, p := range placements {
		p.route.stats.accepted.Add(1)
		accepted.Routes = append(accepted.Routes, p.route.route.Name)
		if p.overflow != nil {
			accepted.Overflow = append(accepted.Overflow, *p.overflow)
		}
	}
	return accepted
}

// admit takes room for one event on lr, applying its overflow policy when
// it is full.
func (br *busRoutes) admit(ctx context.Context, lr *liveRoute) (placement, error) {
	if lr.admission.tryAcquire() {
		return placement{route: lr}, nil
	}
	d := lr.route.Delivery
	full := fmt.Sprintf("route %s is full (max_depth %d)", lr.route.Name, d.MaxDepth)
	if to, ok := d.DivertTo(); ok {
		divert := br.routes[to]
		if divert == nil || !divert.admission.tryAcquire() {
			return placement{}, errcode.Errorf(errcode.ResourceExhausted, "%s and its divert route %s is full or gone; retry later", full, to)
		}
		lr.stats.diverted.Add(1)
		return placement{route: divert, overflow: &overflowAction{Route: lr.route.Name, Action: "divert", To: to}}, nil
	}
	switch d.Overflow {
	case router.OverflowBlock:
		start := time.Now()
		if !lr.admission.acquire(ctx, time.Duration(d.BlockTimeout)) {
			return placement{}, errcode.Errorf(errcode.ResourceExhausted, "%s and stayed full for %v; retry later", full, time.Duration(d.BlockTimeout))
		}
		return placement{route: lr, overflow: &overflowAction{Route: lr.route.Name, Action: "block", Waited: time.Since(start).Round(time.Millisecond).String()}}, nil
	case router.OverflowDropOldest:
		dropper := lr.backend.(adapters.HeadDropper) // checked when the route was saved
		for range 3 {                                // others may take the room first
			dropped, err := dropper.DropOldest(ctx, lr.route.Name)
			if err != nil {
				return placement{}, err
			}
			if dropped {
				lr.stats.dropped.Add(1)
				lr.admission.release()
			}
			if lr.admission.tryAcquire() {
				return placement{route: lr, overflow: &overflowAction{Route: lr.route.Name, Action: "drop-oldest"}}, nil
			}
		}
	}
	return placement{}, errcode.Errorf(errcode.ResourceExhausted, "%s; retry later", full)
}

// publish sends the event to every placement's channel at once and waits
// for every confirm. The first error wins; channels that did store the
// event keep it, which a retry by the producer may duplicate (delivery is
// at-least-once).
func publish(ctx context.Context, e *event.Event, msg *pubsub.Message, placements []placement) error {
	send := func(p placement) error {
		md, err := routeMetadata(e, msg.Metadata, &p.route.route)
		if err != nil {
			return err
		}
		// Each Send needs its own Message; body and metadata are shared read-only.
		if err := p.route.write(ctx, msg.Body, md); err != nil {
			return fmt.Errorf("route %s: %w", p.route.route.Name, err)
		}
		return nil
	}
	if len(placements) == 1 {
		return send(placements[0])
	}
	errs := make([]error, len(placements))
	var wg sync.WaitGroup
	for i, p := range placements {
		wg.Go(func() { errs[i] = send(p) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
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
