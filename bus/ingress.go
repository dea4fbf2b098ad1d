package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"mime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/internal/cesource"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// Result is what became of one event given to Ingest.
type Result struct {
	ID     string
	Source string
	// Routes are the routes whose channels stored the event; empty when it
	// matched none. The slice is shared (with the router, and with the
	// answers to the event's duplicates): read it, do not modify it.
	Routes []string
	// Overflow says what happened at routes that were full.
	Overflow []OverflowAction
	// Err, when not nil, is why the event was not stored anywhere: an
	// errcode.Code (ResourceExhausted for a full route, Unavailable for a
	// backend), or for an invalid event one *spec.FieldError per attribute
	// at fault (joined; it reads as the first). Routes and Overflow are
	// then empty.
	Err error
}

// OverflowAction is one full route's overflow policy at work.
type OverflowAction struct {
	Route  string `json:"route"`
	Action string `json:"action"`           // "divert", "drop-oldest" or "block"
	To     string `json:"to,omitempty"`     // with divert: where the event went
	Waited string `json:"waited,omitempty"` // with block: how long ingress waited
}

// CheckIngress tells whether the caller in ctx may emit to bus, before any
// event is read: an *auth.Denied, or NotFound when the bus does not exist.
func (b *Bus) CheckIngress(ctx context.Context, bus string) error {
	// An unknown caller learns nothing, not even whether the bus exists.
	if err := b.Allow(ctx, bus, auth.Emit); err != nil {
		return err
	}
	if b.state.Load().buses[bus] == nil {
		return errNoBus(bus)
	}
	return nil
}

func errNoBus(bus string) error {
	return errcode.Errorf(errcode.NotFound, "bus %q does not exist: create a route with bus: %s first", bus, bus)
}

// Ingest stores events on bus: each is validated (CloudEvents 1.0, then
// the JSON Schema of its type when the bus's schemas mode says so),
// deduplicated by (bus, source, id), matched against the bus's routes and
// published to every matching route's channel. The results are in the
// order of events; an event is stored once its result has no Err (its
// channels confirmed the write).
//
// With authentication on, the caller in ctx (auth.NewContext) must hold
// emit grants for every valid event, or nothing is stored and the error
// says which was refused; an event the bus itself emits (a plugin's reply)
// carries no caller and is not checked. The error is also NotFound when
// the bus does not exist.
func (b *Bus) Ingest(ctx context.Context, bus string, events []*event.Event) ([]Result, error) {
	routes := b.state.Load().buses[bus]
	if routes == nil {
		return nil, errNoBus(bus)
	}
	results := make([]Result, len(events))
	for i, e := range events {
		if err := validate(e); err != nil {
			results[i] = Result{ID: e.ID(), Source: e.Source(), Err: err}
		}
	}
	if err := b.allowEvents(ctx, bus, routes.acl, events, results); err != nil {
		return nil, err
	}
	if routes.schemas == router.SchemasEnforce || routes.schemas == router.SchemasWarn {
		b.checkSchemas(bus, routes.schemas, events, results)
	}
	// Events are stored at once, so that their sends wait on their
	// backends together; on local backends, where a send waits on
	// nothing, one after another.
	if len(events) == 1 || routes.storesLocally() {
		b.storeInTurn(ctx, bus, routes, events, results)
		return results, nil
	}
	var wg sync.WaitGroup
	for i, e := range events {
		if results[i].Err == nil {
			wg.Go(func() { results[i] = b.storeTraced(ctx, bus, routes, e, b.keyOf(bus, e)) })
		}
	}
	wg.Wait()
	return results, nil
}

// storeInTurn stores the valid events (those without an error in
// results) one after another. The dedup and the history each look an
// event up in an index larger than the processor's cache, a miss that
// every event would wait out alone; for a batch, both first read the
// places of all its events at once, so that the misses overlap.
func (b *Bus) storeInTurn(ctx context.Context, bus string, routes *busRoutes, events []*event.Event, results []Result) {
	keys := make([]eventKey, len(events))
	for i, e := range events {
		if results[i].Err == nil {
			keys[i] = b.keyOf(bus, e)
		}
	}
	if len(events) > 1 {
		b.dedup.prefetch(keys)
		b.history.Prefetch(bus, len(events), func(i int) (string, string) {
			return keys[i].source, events[i].ID()
		})
	}
	for i, e := range events {
		if results[i].Err == nil {
			results[i] = b.storeTraced(ctx, bus, routes, e, keys[i])
		}
	}
}

// allowEvents checks the valid events (those without an error in results)
// against the emit grants of the caller in ctx; the first refused is the
// error.
func (b *Bus) allowEvents(ctx context.Context, bus string, acl *auth.ACL, events []*event.Event, results []Result) error {
	caller := auth.FromContext(ctx)
	if b.access == nil || caller == nil {
		return nil
	}
	for i, e := range events {
		if results[i].Err != nil {
			continue
		}
		if err := b.access.policy.AllowEvent(caller, bus, acl, e.Type(), cesource.Of(e)); err != nil {
			return err
		}
	}
	return nil
}

// validate applies the CloudEvents 1.0 rules to an event. Its error names
// every attribute at fault, in the order of their names.
func validate(e *event.Event) error {
	if c, ok := e.Context.(*event.EventContextV1); ok && len(e.FieldErrors) == 0 && validV1(c) {
		return nil
	}
	err := e.Validate()
	if err == nil {
		return nil
	}
	var verr event.ValidationError
	if !errors.As(err, &verr) {
		return errcode.Errorf(errcode.InvalidArgument, "%v", err)
	}
	invalid := make(invalidEvent, 0, len(verr))
	for _, attr := range slices.Sorted(maps.Keys(verr)) {
		invalid = append(invalid, &spec.FieldError{Path: attr, Message: verr[attr].Error()})
	}
	return invalid
}

// validV1 reports that the SDK's Validate finds nothing wrong with c,
// which nearly every event proves without the maps Validate makes and the
// source URI it formats. False may be wrong: then Validate decides, and
// says what is wrong.
func validV1(c *event.EventContextV1) bool {
	if strings.TrimSpace(c.ID) == "" || strings.TrimSpace(c.Type) == "" {
		return false
	}
	if u := &c.Source.URL; u.Scheme == "" && u.Opaque == "" && u.Host == "" && u.Path == "" {
		return false // the source may format as blank
	}
	if c.Subject != nil && strings.TrimSpace(*c.Subject) == "" {
		return false
	}
	if c.DataSchema != nil && !c.DataSchema.Validate() {
		return false
	}
	if ct := c.DataContentType; ct != nil && *ct != event.ApplicationJSON {
		if _, _, err := mime.ParseMediaType(strings.TrimSpace(*ct)); err != nil {
			return false
		}
	}
	return true
}

// invalidEvent is what is wrong with an event, attribute by attribute
// (each a *spec.FieldError); it reads as the first.
type invalidEvent []error

func (e invalidEvent) Error() string   { return e[0].Error() }
func (e invalidEvent) Unwrap() []error { return e }

// reply stores the events a plugin answered with on bus, as ingress would.
// It fails if any was not stored.
func (b *Bus) reply(ctx context.Context, bus string, replies []event.Event) error {
	events := make([]*event.Event, len(replies))
	for i := range replies {
		events[i] = &replies[i]
	}
	results, err := b.Ingest(ctx, bus, events)
	if err != nil {
		return err
	}
	for _, res := range results {
		if res.Err != nil {
			return fmt.Errorf("reply %s: %w", res.ID, res.Err)
		}
	}
	return nil
}

// storeOnce stores an event, known by key, unless the same
// (source, id) was stored on this bus within the dedup window, in which
// case it answers as the first time. The clock is read once: the window,
// the event's accepted-at and its history all count from when it arrived.
func (b *Bus) storeOnce(ctx context.Context, busName string, br *busRoutes, e *event.Event, key eventKey) Result {
	arrived := time.Now()
	result := Result{ID: e.ID(), Source: key.source}
	claim, earlier, first, err := b.dedup.begin(ctx, key.dedup, arrived)
	if err != nil {
		result.Err = errcode.Errorf(errcode.Unavailable, "waiting for the first copy of this event: %w", err)
		return result
	}
	if !first {
		result.Routes, result.Overflow = earlier.Routes, earlier.Overflow
		return result
	}
	result.Routes, result.Overflow, result.Err = br.store(ctx, e, arrived)
	b.dedup.finish(claim, result, result.Err == nil)
	if result.Err == nil {
		b.accepted(busName, e, result, arrived)
	}
	return result
}

// placement is where one matched route's copy of an event goes, after its
// overflow policy.
type placement struct {
	route    *liveRoute // the route that stores it (the divert route, after a divert)
	overflow *OverflowAction
}

// store matches one event and publishes it to every matching route's
// channel, returning the routes that stored it (empty, not nil, when none
// matched) and the overflow actions on the way.
// The bus's archive stores it at the same time; an event the archive could
// not store fails like one a channel could not.
func (br *busRoutes) store(ctx context.Context, e *event.Event, accepted time.Time) ([]string, []OverflowAction, error) {
	names := br.matcher.Match(router.NewEvent(e))
	archive := br.archive != nil && br.archive.holds()
	if len(names) == 0 && !archive {
		return []string{}, nil, nil
	}
	stamp := adapters.Stamp{AcceptedAt: accepted}
	if archive {
		msg, err := adapters.EncodeStamped(e, stamp)
		if err != nil {
			return nil, nil, err
		}
		archived := make(chan error, 1)
		go func() { archived <- br.archive.append(ctx, msg) }()
		routes, overflow, err := br.publish(ctx, e, stamp, names)
		return routes, overflow, cmp.Or(err, <-archived)
	}
	return br.publish(ctx, e, stamp, names)
}

// publish stores e with stamp on the channels of the routes named, and
// returns the routes that stored it: names itself unless a route diverted
// it (names is the matcher's, not to be modified).
func (br *busRoutes) publish(ctx context.Context, e *event.Event, stamp adapters.Stamp, names []string) ([]string, []OverflowAction, error) {
	if len(names) == 0 {
		return []string{}, nil, nil
	}

	placements := make([]placement, 0, len(names))
	release := func() {
		for _, p := range placements {
			p.route.admission.Release()
		}
	}
	for _, name := range names {
		p, err := br.admit(ctx, br.routes[name])
		if err != nil {
			release()
			return nil, nil, err
		}
		placements = append(placements, p)
	}
	if err := publish(ctx, e, stamp, placements); err != nil {
		release()
		return nil, nil, err
	}
	var overflow []OverflowAction
	for _, p := range placements {
		p.route.stats.Accepted.Add(1)
		if p.overflow != nil {
			overflow = append(overflow, *p.overflow)
		}
	}
	if !slices.ContainsFunc(overflow, func(o OverflowAction) bool { return o.To != "" }) {
		return names, overflow, nil
	}
	routes := make([]string, len(placements)) // a divert names its divert route
	for i, p := range placements {
		routes[i] = p.route.route.Name
	}
	return routes, overflow, nil
}

// admit takes room for one event on lr, applying its overflow policy when
// it is full.
func (br *busRoutes) admit(ctx context.Context, lr *liveRoute) (placement, error) {
	if lr.admission.TryAcquire() {
		return placement{route: lr}, nil
	}
	d := lr.route.Delivery
	full := fmt.Sprintf("route %s is full (max_depth %d)", lr.route.Name, d.MaxDepth)
	if to, ok := d.DivertTo(); ok {
		divert := br.routes[to]
		if divert == nil || !divert.admission.TryAcquire() {
			return placement{}, errcode.Errorf(errcode.ResourceExhausted, "%s and its divert route %s is full or gone; retry later", full, to)
		}
		lr.stats.Diverted.Add(1)
		return placement{route: divert, overflow: &OverflowAction{Route: lr.route.Name, Action: "divert", To: to}}, nil
	}
	switch d.Overflow {
	case router.OverflowBlock:
		start := time.Now()
		if !lr.admission.acquire(ctx, time.Duration(d.BlockTimeout)) {
			return placement{}, errcode.Errorf(errcode.ResourceExhausted, "%s and stayed full for %v; retry later", full, time.Duration(d.BlockTimeout))
		}
		return placement{route: lr, overflow: &OverflowAction{Route: lr.route.Name, Action: "block", Waited: time.Since(start).Round(time.Millisecond).String()}}, nil
	case router.OverflowDropOldest:
		for range 3 { // others may take the room first
			dropped, err := lr.backend.DropOldest(ctx, lr.route.Name) // declared: checked when the route was saved
			if err != nil {
				return placement{}, err
			}
			if dropped {
				lr.stats.Dropped.Add(1)
				lr.admission.Release()
			}
			if lr.admission.TryAcquire() {
				return placement{route: lr, overflow: &OverflowAction{Route: lr.route.Name, Action: "drop-oldest"}}, nil
			}
		}
	}
	return placement{}, errcode.Errorf(errcode.ResourceExhausted, "%s; retry later", full)
}

// publish sends the event to every placement's channel at once and waits
// for every confirm. The first error wins; channels that did store the
// event keep it, which a retry by the producer may duplicate (delivery is
// at-least-once). Each channel encodes the event for itself (SendEvent),
// so an event the backend cannot encode fails there, its room already
// taken and released again; a validated event always encodes.
func publish(ctx context.Context, e *event.Event, stamp adapters.Stamp, placements []placement) error {
	if len(placements) == 1 {
		return sendTo(ctx, e, stamp, placements[0])
	}
	errs := make([]error, len(placements))
	var wg sync.WaitGroup
	for i, p := range placements {
		wg.Go(func() { errs[i] = sendTo(ctx, e, stamp, p) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// sendTo sends e to p's channel with stamp, as p's route stamps it. (A
// function of its own, not a closure in publish: the goroutines of several
// placements would make that closure escape, for every event.)
func sendTo(ctx context.Context, e *event.Event, stamp adapters.Stamp, p placement) error {
	st, err := routeStamp(e, stamp, &p.route.route)
	if err != nil {
		return err
	}
	if err := p.route.channel.SendEvent(ctx, e, st); err != nil {
		return fmt.Errorf("route %s: %w", p.route.route.Name, err)
	}
	return nil
}
