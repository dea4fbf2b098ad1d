package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/bus/delivery"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/router"
	"github.com/eventbus-go/eventbus/spec"
)

// PutRoute creates or replaces a route through the API, keeps it in the
// store, and returns it as saved, secrets masked, with whether it was
// created. Write-only fields that r leaves out (signing secret, target
// credentials) keep their stored values; a signing secret the bus
// generates is returned in Target.HTTP.Signing.Secret, the only time it is
// shown. expected is the version the write requires (store.Absent to
// create only), or store.AnyVersion — then a non-zero r.Version is
// required instead. A mismatch is FailedPrecondition: the route changed
// meanwhile. Errors carry an errcode.Code, or are *spec.FieldError for
// bad input.
func (b *Bus) PutRoute(ctx context.Context, r router.Route, expected int64) (router.Route, bool, error) {
	if err := r.Validate(b.cfg.RuleLimits); err != nil {
		return router.Route{}, false, err
	}
	if expected == store.AnyVersion && r.Version > 0 {
		expected = r.Version
	}
	if h := r.Target.HTTP; h != nil && h.Signing != nil && h.Signing.SecretEnv != "" {
		return router.Route{}, false, &spec.FieldError{Path: "target.http.signing.secret_env", Message: "is for the bus's config file only: send the secret itself in target.http.signing.secret"}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var oldRoute *router.Route
	if old := b.routes[r.Name]; old != nil {
		if old.route.Origin == router.OriginConfig {
			return router.Route{}, false, errConfigOwned("route", r.Name)
		}
		oldRoute = &old.route
	}
	generated, err := settleSecrets(&r, oldRoute, time.Now())
	if err != nil {
		return router.Route{}, false, err
	}
	persist := func(r router.Route) (int64, error) {
		return b.persist(ctx, store.KindRoute, r.Name, r, expected)
	}
	r.Origin = router.OriginAPI
	saved, created, err := b.applyRoute(ctx, r, persist)
	if err != nil {
		return router.Route{}, false, err
	}
	if created {
		b.startFrom(ctx, saved)
	}
	return shown(saved, generated), created, nil
}

// errConfigOwned refuses an API change to a resource of the config file.
func errConfigOwned(kind, name string) error {
	return errcode.Errorf(errcode.FailedPrecondition, "%s %q is defined in the bus's config file: change it there, not through the API", kind, name)
}

// applyRoute makes r live: it checks r against the bus, prepares its
// channels, swaps in a dispatcher for the new policy, calls persist (when
// not nil) to record it, and publishes the new routing state. On any error
// the previous state stays. b.mu must be held.
func (b *Bus) applyRoute(ctx context.Context, r router.Route, persist func(router.Route) (int64, error)) (router.Route, bool, error) {
	if b.closed {
		return router.Route{}, false, errcode.Errorf(errcode.FailedPrecondition, "the bus is shutting down")
	}
	version, origin := r.Version, r.Origin
	r = r.WithDefaults()
	bus, ok := b.buses[r.Bus]
	if !ok {
		return router.Route{}, false, &spec.FieldError{Path: "bus", Message: fmt.Sprintf("bus %q does not exist: create it first (PUT /v1/buses/%s)", r.Bus, r.Bus)}
	}
	if r.Backend == "" {
		r.Backend = cmp.Or(bus.Backend, b.cfg.DefaultBackend)
	}
	if err := b.backends.Check(r.Backend); err != nil {
		return router.Route{}, false, &spec.FieldError{Path: "backend", Message: err.Error()}
	}
	old := b.routes[r.Name]
	if old != nil && old.route.Backend != r.Backend {
		return router.Route{}, false, errcode.Errorf(errcode.FailedPrecondition,
			"route %q cannot move from backend %s to %s: create a new route, and delete this one once its channel is empty",
			r.Name, adapters.Redact(old.route.Backend), adapters.Redact(r.Backend))
	}
	if err := b.checkOverflowTarget(r); err != nil {
		return router.Route{}, false, err
	}
	if _, replays, _ := router.StartTime(r.Start); replays && old == nil {
		if _, err := b.archiveReader(ctx, r.Bus); err != nil {
			return router.Route{}, false, &spec.FieldError{Path: "start", Message: err.Error()}
		}
	}
	if err := b.checkZeroMQBind(r); err != nil {
		return router.Route{}, false, err
	}
	// Compile first: a rule the matcher refuses changes nothing.
	next := maps.Clone(b.routes)
	next[r.Name] = &liveRoute{route: r}
	if _, err := b.compile(next, b.buses); err != nil {
		return router.Route{}, false, err
	}

	lr := &liveRoute{route: r}
	if old != nil {
		if err := checkCapabilities(r, old.backend); err != nil {
			return router.Route{}, false, err
		}
		lr.backend, lr.channel, lr.deadLetter = old.backend, old.channel, old.deadLetter
		lr.stats, lr.admission = old.stats, old.admission
	} else if err := lr.open(ctx, b.backends); err != nil {
		return router.Route{}, false, err
	}
	// undo puts back what was live before this change.
	undo := func() {
		if lr.dispatcher != nil {
			b.stopDispatcher(ctx, lr, false)
		}
		if old == nil {
			_ = lr.closeChannels(ctx)
			return
		}
		if !old.route.Paused && old.dispatcher == nil {
			if err := b.startDispatcher(ctx, old); err != nil {
				b.log.Error("route left without a dispatcher", "route", r.Name, "err", err)
			}
		}
	}
	if err := b.checkTarget(ctx, &r); err != nil {
		undo()
		return router.Route{}, false, err
	}
	if old != nil {
		b.stopDispatcher(ctx, old, false)
	}
	if !r.Paused {
		if err := b.startDispatcher(ctx, lr); err != nil {
			undo()
			return router.Route{}, false, err
		}
	}
	if persist != nil {
		v, err := persist(r)
		if err != nil {
			undo()
			return router.Route{}, false, err
		}
		version = v
	}
	lr.admission.setMax(r.Delivery.MaxDepth)
	r.Version, r.Origin = version, origin
	lr.route = r
	next[r.Name] = lr
	b.routes = next
	b.publishState()
	b.log.Info("route saved", "route", r.Name, "bus", r.Bus, "backend", adapters.Redact(r.Backend), "version", version, "created", old == nil, "paused", r.Paused)
	return r, old == nil, nil
}

// checkTarget makes sure a paused route's target could be reached once it
// resumes (a running route's dispatcher opens it anyway).
func (b *Bus) checkTarget(ctx context.Context, r *router.Route) error {
	switch {
	case !r.Paused:
		return nil
	case r.Target.Plugin != nil:
		return b.checkPlugin(r.Target.Plugin.Name)
	case r.Target.Topic != nil && !r.Target.Topic.IsZeroMQ():
		_, err := b.publisher(ctx, r.Target.Topic)
		return err
	}
	return nil
}

// DeleteRoute removes a route through the API, with its channel and its
// dead-letter channel and the events in them. expected is the version the
// delete requires, or store.AnyVersion.
func (b *Bus) DeleteRoute(ctx context.Context, name string, expected int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	lr, ok := b.routes[name]
	if !ok {
		return errcode.Errorf(errcode.NotFound, "route %q does not exist", name)
	}
	if lr.route.Origin == router.OriginConfig {
		return errConfigOwned("route", name)
	}
	for _, other := range b.routes {
		if to, ok := other.route.Delivery.DivertTo(); ok && to == name && other.route.Name != name {
			return errcode.Errorf(errcode.FailedPrecondition, "route %q is where route %q diverts its overflow: change that route first", name, other.route.Name)
		}
	}
	if err := b.store.Delete(ctx, store.KindRoute, name, expected); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeError(err, "route", name, expected)
	}
	if err := b.forgetReplays(ctx, name); err != nil {
		b.log.Error("deleting the replays of a deleted route", "route", name, "err", err)
	}
	return b.removeRoute(ctx, name, true)
}

// removeRoute stops a route and forgets it; with dropChannels it also
// deletes its channels (the replica that deletes does; the others only
// stop). b.mu must be held.
func (b *Bus) removeRoute(ctx context.Context, name string, dropChannels bool) error {
	lr := b.routes[name]
	next := maps.Clone(b.routes)
	delete(next, name)
	b.routes = next
	b.publishState()
	b.stopDispatcher(ctx, lr, false)
	err := lr.closeChannels(ctx)
	if dropChannels {
		err = errors.Join(err,
			lr.backend.DeleteChannel(ctx, name),
			lr.backend.DeleteChannel(ctx, name+router.DeadLetterSuffix))
	}
	b.log.Info("route deleted", "route", name)
	return err
}

// Routes returns every route, sorted by name, with defaults applied and
// secrets masked.
func (b *Bus) Routes() []router.Route {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]router.Route, 0, len(b.routes))
	for _, name := range slices.Sorted(maps.Keys(b.routes)) {
		out = append(out, shown(b.routes[name].route, ""))
	}
	return out
}

// Route returns one route with defaults applied, secrets masked.
func (b *Bus) Route(name string) (router.Route, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lr, ok := b.routes[name]
	if !ok {
		return router.Route{}, false
	}
	return shown(lr.route, ""), true
}

// open provisions the route's channels and opens them for sending.
func (lr *liveRoute) open(ctx context.Context, backends *adapters.Registry) error {
	be, err := backends.Open(ctx, lr.route.Backend)
	if err != nil {
		return err
	}
	if err := checkCapabilities(lr.route, be); err != nil {
		return err
	}
	name := lr.route.Name
	dlName := name + router.DeadLetterSuffix
	for _, ch := range []string{name, dlName} {
		if err := be.EnsureChannel(ctx, ch); err != nil {
			return fmt.Errorf("provisioning channel %q: %w", ch, err)
		}
	}
	channel, err := be.OpenChannel(ctx, name)
	if err != nil {
		return err
	}
	deadLetter, err := be.OpenChannel(ctx, dlName)
	if err != nil {
		_ = channel.Shutdown(ctx)
		return err
	}
	// Events already waiting (a durable channel from an earlier run) count
	// against max_depth.
	depth, err := be.Depth(ctx, name)
	if err != nil {
		_ = channel.Shutdown(ctx)
		_ = deadLetter.Shutdown(ctx)
		return err
	}
	lr.backend, lr.channel, lr.deadLetter = be, channel, deadLetter
	lr.stats, lr.admission = &delivery.Counters{}, newAdmission(depth)
	return nil
}

// checkCapabilities refuses a route whose delivery policy the backend
// cannot keep, rather than downgrading it silently.
func checkCapabilities(r router.Route, be *adapters.Backend) error {
	caps := be.Capabilities()
	d := r.Delivery
	if d.OrderingKey != "" && !caps.Ordering {
		return &spec.FieldError{Path: "delivery.ordering_key", Message: fmt.Sprintf("backend %s cannot keep per-key order", adapters.Redact(r.Backend))}
	}
	if d.Delay > 0 && !caps.Delay {
		return &spec.FieldError{Path: "delivery.delay", Message: fmt.Sprintf("backend %s cannot delay delivery", adapters.Redact(r.Backend))}
	}
	if d.Overflow == router.OverflowDropOldest && !caps.DropOldest {
		return &spec.FieldError{Path: "delivery.overflow", Message: fmt.Sprintf("backend %s cannot drop its oldest events: use reject, block or divert:<route>", adapters.Redact(r.Backend))}
	}
	return nil
}

// checkOverflowTarget makes sure a divert names another route of the same bus.
func (b *Bus) checkOverflowTarget(r router.Route) error {
	to, ok := r.Delivery.DivertTo()
	if !ok {
		return nil
	}
	target, exists := b.routes[to]
	switch {
	case to == r.Name:
		return &spec.FieldError{Path: "delivery.overflow", Message: "a route cannot divert to itself"}
	case !exists:
		return &spec.FieldError{Path: "delivery.overflow", Message: fmt.Sprintf("divert route %q does not exist: create it first", to)}
	case target.route.Bus != r.Bus:
		return &spec.FieldError{Path: "delivery.overflow", Message: fmt.Sprintf("divert route %q is on bus %q, not %q", to, target.route.Bus, r.Bus)}
	}
	return nil
}

func (lr *liveRoute) closeChannels(ctx context.Context) error {
	return errors.Join(lr.channel.Shutdown(ctx), lr.deadLetter.Shutdown(ctx))
}

func (b *Bus) startDispatcher(ctx context.Context, lr *liveRoute) error {
	r := lr.route
	t, closeTarget, err := b.openTarget(ctx, &r, lr.stats)
	if err != nil {
		return err
	}
	d, err := delivery.Start(ctx, delivery.Options{
		Route:       r,
		Backend:     lr.backend,
		Channel:     lr.channel,
		DeadLetter:  lr.deadLetter,
		Target:      t,
		CloseTarget: closeTarget,
		Counters:    lr.stats,
		Room:        lr.admission,
		History:     b.history,
		Log:         b.log,
		Tracer:      b.tracer,
		Replicas:    b.liveReplicas,
	})
	if err != nil {
		_ = closeTarget(ctx)
		return err
	}
	lr.dispatcher = d
	return nil
}

// openTarget connects to a route's target; the returned func disconnects.
func (b *Bus) openTarget(ctx context.Context, r *router.Route, stats *delivery.Counters) (delivery.Target, func(context.Context) error, error) {
	noClose := func(context.Context) error { return nil }
	switch {
	case r.Target.Topic != nil && r.Target.Topic.IsZeroMQ():
		return b.openZeroMQ(r, stats)
	case r.Target.HTTP != nil:
		t, err := b.httpTargets.Open(r)
		if err != nil {
			return nil, nil, err
		}
		if s := r.Target.HTTP.Signing; !t.Signed() && (s == nil || !s.Disabled) {
			b.log.Warn("route delivers unsigned: it has no signing secret, being stored before the bus signed; rotate it (POST /v1/routes/{name}/signing-secret) to sign", "route", r.Name)
		}
		return delivery.Batched(t, r), t.Close, nil
	case r.Target.Plugin != nil:
		if err := b.checkPlugin(r.Target.Plugin.Name); err != nil {
			return nil, nil, err
		}
		bus := r.Bus
		reply := func(ctx context.Context, replies []event.Event) error { return b.reply(ctx, bus, replies) }
		return &delivery.PluginTarget{Host: b.plugins, Name: r.Target.Plugin.Name, Reply: reply}, noClose, nil
	}
	be, err := b.publisher(ctx, r.Target.Topic)
	if err != nil {
		return nil, nil, err
	}
	topic, err := be.OpenTopic(ctx, r.Target.Topic.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("opening topic %q: %w", r.Target.Topic.Name, err)
	}
	return &delivery.TopicTarget{Topic: topic}, topic.Shutdown, nil
}

func (b *Bus) checkPlugin(name string) error {
	if b.plugins == nil || !b.plugins.Has(name) {
		return &spec.FieldError{Path: "target.plugin.name", Message: fmt.Sprintf("no plugin %q is declared: add it to the config's plugins list", name)}
	}
	return nil
}

// publisher opens the backend of a topic target, which must be able to
// publish to topics.
func (b *Bus) publisher(ctx context.Context, t *router.TopicTarget) (*adapters.Backend, error) {
	if err := b.backends.Check(t.URL); err != nil {
		return nil, &spec.FieldError{Path: "target.topic.url", Message: err.Error()}
	}
	be, err := b.backends.Open(ctx, t.URL)
	if err != nil {
		return nil, err
	}
	if !be.Capabilities().Topics {
		return nil, &spec.FieldError{Path: "target.topic.url", Message: fmt.Sprintf("backend %s cannot publish to topics", adapters.Redact(t.URL))}
	}
	return be, nil
}

// stopDispatcher stops lr's dispatcher, if it runs. At process exit (final)
// an in-memory channel is drained first, since its events die with the
// process; a paused in-memory route with events left is reported.
func (b *Bus) stopDispatcher(ctx context.Context, lr *liveRoute, final bool) {
	volatile := final && !lr.backend.Capabilities().Durable
	depth := func(ctx context.Context) (int64, error) { return lr.backend.Depth(ctx, lr.route.Name) }
	if lr.dispatcher == nil {
		if volatile {
			if n, err := depth(ctx); err == nil && n > 0 {
				b.log.Error("route is paused with events in memory; they are lost at exit", "route", lr.route.Name, "events", n)
			}
		}
		return
	}
	lr.dispatcher.Shutdown(ctx, volatile, depth)
	lr.dispatcher = nil
}

func (b *Bus) liveRoute(name string) (*liveRoute, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lr, ok := b.routes[name]
	if !ok {
		return nil, errcode.Errorf(errcode.NotFound, "route %q does not exist", name)
	}
	return lr, nil
}

func (b *Bus) dispatcherOf(name string) *delivery.Dispatcher {
	b.mu.Lock()
	defer b.mu.Unlock()
	if lr, ok := b.routes[name]; ok {
		return lr.dispatcher
	}
	return nil
}

// DeadLetters lists up to limit dead letters of a route, after skipping
// offset, with the total waiting.
func (b *Bus) DeadLetters(ctx context.Context, route string, offset, limit int) ([]*event.Event, int64, error) {
	lr, err := b.liveRoute(route)
	if err != nil {
		return nil, 0, err
	}
	return delivery.DeadLetters(ctx, lr.backend, route, offset, limit)
}

// Redrive puts a route's dead letters back on its channel for another round
// of attempts: all of them, or those whose id is in ids. It returns how many.
func (b *Bus) Redrive(ctx context.Context, route string, ids []string) (int, error) {
	lr, err := b.liveRoute(route)
	if err != nil {
		return 0, err
	}
	return delivery.Redrive(ctx, lr.backend, lr.channel, lr.admission, lr.route, ids, b.history)
}
