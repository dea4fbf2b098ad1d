package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"gocloud.dev/pubsub"
	"golang.org/x/time/rate"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/memory"
	"github.com/eventbus-go/eventbus/adapters/rabbitmq"
	"github.com/eventbus-go/eventbus/plugins"
	"github.com/eventbus-go/eventbus/router"
)

// Bus is one bus process: its routes, their channels and dispatchers, and
// the HTTP API. Create it with New, serve it with Run.
type Bus struct {
	cfg      Config
	log      *slog.Logger
	backends *adapters.Registry
	client   *http.Client

	dedup *dedup
	// plugins runs the handler programs of plugin targets; nil when the
	// config declares none.
	plugins *plugins.Host

	mu     sync.Mutex // serialises route changes and shutdown
	routes map[string]*liveRoute
	closed bool

	// state is what ingress reads, swapped whole on every route change so
	// readers never lock.
	state atomic.Pointer[snapshot]
}

// liveRoute is a route with its open channel and, unless paused, its
// dispatcher.
type liveRoute struct {
	route      router.Route // with defaults applied
	backend    adapters.Backend
	topic      *pubsub.Topic
	deadLetter *pubsub.Topic
	dispatcher *dispatcher
	// stats and admission outlive replacements of the route.
	stats     *routeStats
	admission *admission
}

type snapshot struct {
	buses map[string]*busRoutes
}

// busRoutes is the compiled view of one bus's routes.
type busRoutes struct {
	matcher *router.Matcher
	routes  map[string]*liveRoute
}

// newRegistry lists the backends this build knows. A new backend is one
// more line here.
func newRegistry() *adapters.Registry {
	r := adapters.NewRegistry()
	r.Register(memory.Scheme, memory.Open)
	r.Register(rabbitmq.Scheme, rabbitmq.Open)
	return r
}

// New starts a bus with the config's routes. Call Shutdown (or Run) to stop it.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Bus, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Bus{
		cfg:      cfg,
		log:      log,
		backends: newRegistry(),
		client:   newHTTPClient(),
		routes:   map[string]*liveRoute{},
		dedup:    newDedup(time.Duration(cfg.Dedup.Window), cfg.Dedup.MaxEvents),
	}
	b.publishState()
	if len(cfg.Plugins) > 0 {
		host, err := plugins.NewHost(ctx, cfg.Plugins, log)
		if err != nil {
			return nil, fmt.Errorf("starting plugins: %w", err)
		}
		b.plugins = host
	}
	for i, r := range cfg.Routes {
		if _, err := b.PutRoute(ctx, r); err != nil {
			_ = b.Shutdown(context.Background())
			return nil, fmt.Errorf("routes[%d] (%s): %w", i, r.Name, err)
		}
	}
	return b, nil
}

// Run serves the HTTP API on ln until ctx ends, then shuts down in order:
// ingress stops taking events, dispatchers finish (draining in-memory
// channels), then channels and backends close. It returns once all is
// stopped.
func (b *Bus) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	b.log.Info("shutting down: ingress closed, draining deliveries", "timeout", time.Duration(b.cfg.ShutdownTimeout))
	shutCtx, cancel := context.WithTimeout(context.Background(), time.Duration(b.cfg.ShutdownTimeout))
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil {
		err = errors.Join(err, fmt.Errorf("stopping ingress: %w", serr))
	}
	if serr := b.Shutdown(shutCtx); serr != nil {
		err = errors.Join(err, serr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Shutdown stops every dispatcher, then closes channels and backends. It is
// idempotent. Ingress must be stopped first (Run does).
func (b *Bus) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	var wg sync.WaitGroup
	for _, lr := range b.routes {
		wg.Go(func() { b.stopDispatcher(ctx, lr, true) })
	}
	wg.Wait()
	var errs []error
	for _, lr := range b.routes {
		errs = append(errs, lr.closeTopics(ctx))
	}
	errs = append(errs, b.backends.Close())
	if b.plugins != nil {
		errs = append(errs, b.plugins.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// PutRoute creates or replaces a route and reports whether it was created.
// Errors carry an adapters.Code, or are *router.FieldError for bad input.
func (b *Bus) PutRoute(ctx context.Context, r router.Route) (bool, error) {
	if err := r.Validate(b.cfg.RuleLimits); err != nil {
		return false, err
	}
	r = r.WithDefaults()
	if r.Backend == "" {
		r.Backend = b.cfg.DefaultBackend
	}
	if err := b.backends.Check(r.Backend); err != nil {
		return false, &router.FieldError{Path: "backend", Message: err.Error()}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false, adapters.Errorf(adapters.FailedPrecondition, "the bus is shutting down")
	}
	old := b.routes[r.Name]
	if old != nil && old.route.Backend != r.Backend {
		return false, adapters.Errorf(adapters.FailedPrecondition,
			"route %q cannot move from backend %s to %s: create a new route, and delete this one once its channel is empty",
			r.Name, adapters.Redact(old.route.Backend), adapters.Redact(r.Backend))
	}
	if err := b.checkOverflowTarget(r); err != nil {
		return false, err
	}
	// Compile first: a rule the matcher refuses changes nothing.
	next := maps.Clone(b.routes)
	next[r.Name] = &liveRoute{route: r}
	buses, err := b.compile(next)
	if err != nil {
		return false, err
	}

	lr := &liveRoute{route: r}
	if old != nil {
		if err := checkCapabilities(r, old.backend); err != nil {
			return false, err
		}
		lr.backend, lr.topic, lr.deadLetter = old.backend, old.topic, old.deadLetter
		lr.stats, lr.admission = old.stats, old.admission
		b.stopDispatcher(ctx, old, false)
	} else if err := lr.open(ctx, b.backends); err != nil {
		return false, err
	}
	lr.admission.setMax(r.Delivery.MaxDepth)
	if r.Paused && r.Target.Plugin != nil {
		if err := b.checkPlugin(r.Target.Plugin.Name); err != nil {
			if old == nil {
				_ = lr.closeTopics(ctx)
			}
			return false, err
		}
	}
	if r.Paused && r.Target.Topic != nil {
		if _, err := b.publisher(ctx, r.Target.Topic); err != nil {
			if old == nil {
				_ = lr.closeTopics(ctx)
			}
			return false, err
		}
	}
	if !r.Paused {
		if err := b.startDispatcher(ctx, lr); err != nil {
			if old == nil {
				_ = lr.closeTopics(ctx)
			} else if !old.route.Paused {
				if rerr := b.startDispatcher(ctx, old); rerr != nil {
					b.log.Error("route left without a dispatcher", "route", r.Name, "err", rerr)
				}
			}
			return false, err
		}
	}
	next[r.Name] = lr
	for _, br := range buses {
		for name := range br.routes {
			br.routes[name] = next[name]
		}
	}
	b.routes = next
	b.state.Store(&snapshot{buses: buses})
	b.log.Info("route saved", "route", r.Name, "bus", r.Bus, "backend", adapters.Redact(r.Backend), "created", old == nil, "paused", r.Paused)
	return old == nil, nil
}

// DeleteRoute removes a route, its channel and its dead-letter channel,
// discarding the events in them.
func (b *Bus) DeleteRoute(ctx context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	lr, ok := b.routes[name]
	if !ok {
		return adapters.Errorf(adapters.NotFound, "route %q does not exist", name)
	}
	for _, other := range b.routes {
		if to, ok := other.route.Delivery.DivertTo(); ok && to == name && other.route.Name != name {
			return adapters.Errorf(adapters.FailedPrecondition, "route %q is where route %q diverts its overflow: change that route first", name, other.route.Name)
		}
	}
	next := maps.Clone(b.routes)
	delete(next, name)
	buses, err := b.compile(next)
	if err != nil {
		return err
	}
	b.routes = next
	b.state.Store(&snapshot{buses: buses})
	b.stopDispatcher(ctx, lr, false)
	err = errors.Join(
		lr.closeTopics(ctx),
		lr.backend.DeleteChannel(ctx, name),
		lr.backend.DeleteChannel(ctx, name+router.DeadLetterSuffix),
	)
	b.log.Info("route deleted", "route", name)
	return err
}

// Routes returns every route, sorted by name, with defaults applied.
func (b *Bus) Routes() []router.Route {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]router.Route, 0, len(b.routes))
	for _, name := range slices.Sorted(maps.Keys(b.routes)) {
		out = append(out, b.routes[name].route)
	}
	return out
}

// Route returns one route with defaults applied.
func (b *Bus) Route(name string) (router.Route, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lr, ok := b.routes[name]
	if !ok {
		return router.Route{}, false
	}
	return lr.route, true
}

// compile builds one matcher per bus from routes. The default bus always
// exists, so events sent to it with no routes are accepted and stored nowhere.
func (b *Bus) compile(routes map[string]*liveRoute) (map[string]*busRoutes, error) {
	rules := map[string]map[string]router.Rule{router.DefaultBus: {}}
	for name, lr := range routes {
		if rules[lr.route.Bus] == nil {
			rules[lr.route.Bus] = map[string]router.Rule{}
		}
		rules[lr.route.Bus][name] = lr.route.Rule()
	}
	buses := make(map[string]*busRoutes, len(rules))
	for bus, set := range rules {
		m, err := router.NewMatcher(set, b.cfg.RuleLimits)
		if err != nil {
			return nil, adapters.Errorf(adapters.InvalidArgument, "bus %q: %w", bus, err)
		}
		br := &busRoutes{matcher: m, routes: make(map[string]*liveRoute, len(set))}
		for name := range set {
			br.routes[name] = routes[name]
		}
		buses[bus] = br
	}
	return buses, nil
}

func (b *Bus) publishState() {
	buses, err := b.compile(b.routes)
	if err != nil {
		panic("compiling an empty route set failed: " + err.Error())
	}
	b.state.Store(&snapshot{buses: buses})
}

// open provisions the route's channels and opens their topics.
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
	topic, err := be.OpenTopic(ctx, name)
	if err != nil {
		return err
	}
	deadLetter, err := be.OpenTopic(ctx, dlName)
	if err != nil {
		_ = topic.Shutdown(ctx)
		return err
	}
	// Events already waiting (a durable channel from an earlier run) count
	// against max_depth.
	depth, err := be.Depth(ctx, name)
	if err != nil {
		_ = topic.Shutdown(ctx)
		_ = deadLetter.Shutdown(ctx)
		return err
	}
	lr.backend, lr.topic, lr.deadLetter = be, topic, deadLetter
	lr.stats, lr.admission = &routeStats{}, newAdmission(depth)
	return nil
}

// checkCapabilities refuses a route whose delivery policy the backend
// cannot keep, rather than downgrading it silently.
func checkCapabilities(r router.Route, be adapters.Backend) error {
	caps := be.Capabilities()
	d := r.Delivery
	if d.OrderingKey != "" && !caps.Ordering {
		return &router.FieldError{Path: "delivery.ordering_key", Message: fmt.Sprintf("backend %s cannot keep per-key order", adapters.Redact(r.Backend))}
	}
	if d.Delay > 0 && !caps.Delay {
		return &router.FieldError{Path: "delivery.delay", Message: fmt.Sprintf("backend %s cannot delay delivery", adapters.Redact(r.Backend))}
	}
	if _, ok := be.(adapters.HeadDropper); d.Overflow == router.OverflowDropOldest && !ok {
		return &router.FieldError{Path: "delivery.overflow", Message: fmt.Sprintf("backend %s cannot drop its oldest events: use reject, block or divert:<route>", adapters.Redact(r.Backend))}
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
		return &router.FieldError{Path: "delivery.overflow", Message: "a route cannot divert to itself"}
	case !exists:
		return &router.FieldError{Path: "delivery.overflow", Message: fmt.Sprintf("divert route %q does not exist: create it first", to)}
	case target.route.Bus != r.Bus:
		return &router.FieldError{Path: "delivery.overflow", Message: fmt.Sprintf("divert route %q is on bus %q, not %q", to, target.route.Bus, r.Bus)}
	}
	return nil
}

func (lr *liveRoute) closeTopics(ctx context.Context) error {
	return errors.Join(lr.topic.Shutdown(ctx), lr.deadLetter.Shutdown(ctx))
}

func (b *Bus) startDispatcher(ctx context.Context, lr *liveRoute) error {
	r := lr.route
	t, closeTarget, err := b.openTarget(ctx, &r)
	if err != nil {
		return err
	}
	sub, err := lr.backend.OpenSubscription(ctx, r.Name, adapters.SubscriptionOptions{MaxInflight: r.Delivery.MaxInflight})
	if err != nil {
		_ = closeTarget(ctx)
		return err
	}
	d := &dispatcher{
		route:       r,
		sub:         sub,
		topic:       lr.topic,
		deadLetter:  lr.deadLetter,
		target:      t,
		closeTarget: closeTarget,
		requeue:     lr.backend.Capabilities().Delay && r.Delivery.OrderingKey == "",
		stats:       lr.stats,
		admission:   lr.admission,
		log:         b.log,
	}
	if r.Delivery.Rate != "" {
		perSecond, _ := router.ParseRate(r.Delivery.Rate) // validated on save
		d.limiter = rate.NewLimiter(rate.Limit(perSecond), 1)
	}
	d.start()
	lr.dispatcher = d
	return nil
}

// openTarget connects to a route's target; the returned func disconnects.
func (b *Bus) openTarget(ctx context.Context, r *router.Route) (target, func(context.Context) error, error) {
	noClose := func(context.Context) error { return nil }
	switch {
	case r.Target.HTTP != nil:
		return newHTTPTarget(b.client, r), noClose, nil
	case r.Target.Plugin != nil:
		if err := b.checkPlugin(r.Target.Plugin.Name); err != nil {
			return nil, nil, err
		}
		bus := r.Bus
		reply := func(ctx context.Context, replies []event.Event) error { return b.ingest(ctx, bus, replies) }
		return &pluginTarget{host: b.plugins, name: r.Target.Plugin.Name, reply: reply}, noClose, nil
	}
	pub, err := b.publisher(ctx, r.Target.Topic)
	if err != nil {
		return nil, nil, err
	}
	topic, err := pub.OpenPublisher(ctx, r.Target.Topic.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("opening topic %q: %w", r.Target.Topic.Name, err)
	}
	return &topicTarget{topic: topic}, topic.Shutdown, nil
}

func (b *Bus) checkPlugin(name string) error {
	if b.plugins == nil || !b.plugins.Has(name) {
		return &router.FieldError{Path: "target.plugin.name", Message: fmt.Sprintf("no plugin %q is declared: add it to the config's plugins list", name)}
	}
	return nil
}

// publisher opens the backend of a topic target, which must be able to
// publish to topics.
func (b *Bus) publisher(ctx context.Context, t *router.TopicTarget) (adapters.Publisher, error) {
	if err := b.backends.Check(t.URL); err != nil {
		return nil, &router.FieldError{Path: "target.topic.url", Message: err.Error()}
	}
	be, err := b.backends.Open(ctx, t.URL)
	if err != nil {
		return nil, err
	}
	pub, ok := be.(adapters.Publisher)
	if !ok {
		return nil, &router.FieldError{Path: "target.topic.url", Message: fmt.Sprintf("backend %s cannot publish to topics", adapters.Redact(t.URL))}
	}
	return pub, nil
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
	lr.dispatcher.shutdown(ctx, volatile, depth)
	lr.dispatcher = nil
}
