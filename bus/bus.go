package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/eventbus-go/eventbus/adapters"
	"github.com/eventbus-go/eventbus/adapters/activemq"
	"github.com/eventbus-go/eventbus/adapters/kafka"
	"github.com/eventbus-go/eventbus/adapters/memory"
	"github.com/eventbus-go/eventbus/adapters/nats"
	"github.com/eventbus-go/eventbus/adapters/rabbitmq"
	"github.com/eventbus-go/eventbus/adapters/sqs"
	"github.com/eventbus-go/eventbus/auth"
	"github.com/eventbus-go/eventbus/bus/delivery"
	"github.com/eventbus-go/eventbus/bus/history"
	"github.com/eventbus-go/eventbus/bus/schema"
	"github.com/eventbus-go/eventbus/bus/store"
	"github.com/eventbus-go/eventbus/errcode"
	"github.com/eventbus-go/eventbus/plugins"
	"github.com/eventbus-go/eventbus/router"
)

// Bus is one bus process: its buses and routes, their channels and
// dispatchers. Create it with New; package httpapi serves its HTTP API.
type Bus struct {
	cfg         Config
	log         *slog.Logger
	backends    *adapters.Registry
	httpTargets *delivery.HTTPTargets

	dedup *dedup
	// archives keeps each bus's accepted events for replays.
	archives *archives
	// replays runs the replays this replica started.
	replays *replays
	// history records what became of recent events; nil with history.off.
	history *history.History
	// tails are the live tails of each bus.
	tails *tails
	// plugins runs the handler programs of plugin targets; nil when the
	// config declares none.
	plugins *plugins.Host
	// sources feed buses from ZeroMQ publishers (config only).
	sources []*source

	// store keeps the buses and routes made through the API.
	store     *countedStore
	stopWatch context.CancelFunc
	// cluster shares limits with the other replicas of the store; nil when
	// the store cannot count them.
	cluster   *cluster
	watchDone chan struct{}

	// access authenticates and authorizes requests; nil when the config
	// has no auth section and the bus is open.
	access *access

	// tracer records spans of ingest and delivery; nil when tracing is
	// off. stopTracing flushes the exporter the bus started, if any.
	tracer      trace.Tracer
	stopTracing func(context.Context) error

	mu     sync.Mutex // serialises changes to buses, routes and keys, and shutdown
	buses  map[string]router.Bus
	routes map[string]*liveRoute
	// storedKeys are the API keys kept in the store.
	storedKeys []auth.Key
	// schemaDocs are the schemas kept in the store, by event type;
	// schemas the same compiled, which ingress reads without locking.
	schemaDocs map[string]storedSchema
	closed     bool

	schemas atomic.Pointer[schema.Set]
	// inferrers learn the shape of each type's data on buses with schemas:
	// warn; schemaWarnings bounds how often a broken schema is logged.
	inferrers      inferrers
	schemaWarnings *rate.Sometimes
	// schedules are the schedules kept in the store, by name; their
	// firing loop ends with stopSchedules.
	schedules     map[string]*liveSchedule
	stopSchedules context.CancelFunc
	schedulesDone chan struct{}

	// state is what ingress reads, swapped whole on every route change so
	// readers never lock.
	state atomic.Pointer[snapshot]
}

// liveRoute is a route with its open channel and, unless paused, its
// dispatcher.
type liveRoute struct {
	route   router.Route // with defaults applied
	backend *adapters.Backend
	// channel and deadLetter send to the route's channel (ingress,
	// retries, redrive) and to its dead-letter channel.
	channel, deadLetter *adapters.Channel
	dispatcher          *delivery.Dispatcher
	// stats and admission outlive replacements of the route.
	stats     *delivery.Counters
	admission *admission
}

// local says whether storing an event on the route waits on nothing: its
// backend is local, and it does not wait for room when full (overflow:
// block). False while its backend is not yet open (a route being checked).
func (lr *liveRoute) local() bool {
	return lr.backend != nil && lr.backend.Capabilities().Local && lr.route.Delivery.Overflow != router.OverflowBlock
}

type snapshot struct {
	buses map[string]*busRoutes
}

// busRoutes is the compiled view of one bus's routes.
type busRoutes struct {
	matcher *router.Matcher
	routes  map[string]*liveRoute
	acl     *auth.ACL
	// archive keeps every accepted event; nil when the bus's is off.
	archive *busArchive
	// schemas is the bus's schema mode (router.SchemasEnforce, ...).
	schemas string
	// local: storing on every route waits on nothing (liveRoute.local).
	local bool
}

// storesLocally says whether storing an event waits on nothing: every
// route is local, and the bus keeps no archive.
func (br *busRoutes) storesLocally() bool {
	return br.local && (br.archive == nil || !br.archive.holds())
}

// newRegistry lists the backends this build knows. A new backend is one
// more line here.
func newRegistry() *adapters.Registry {
	r := adapters.NewRegistry()
	r.Register(memory.Scheme, memory.Open)
	r.Register(rabbitmq.Scheme, rabbitmq.Open)
	r.Register(rabbitmq.SchemeTLS, rabbitmq.Open)
	r.Register(kafka.Scheme, kafka.Open)
	r.Register(sqs.Scheme, sqs.Open)
	r.Register(nats.Scheme, nats.Open)
	r.Register(nats.SchemeEmbedded, nats.OpenEmbedded)
	r.Register(activemq.Scheme, activemq.Open)
	r.Register(activemq.SchemeSTOMP, activemq.Open)
	return r
}

// New starts a bus: its plugins, the buses and routes of its config, then
// those kept in its store. Call Shutdown (or Run) to stop it.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Bus, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return newWithStore(ctx, cfg, st, log)
}

// newWithStore starts a bus on an open store, which it closes at Shutdown.
func newWithStore(ctx context.Context, cfg Config, st store.Store, log *slog.Logger) (*Bus, error) {
	b := &Bus{
		cfg:            cfg,
		log:            log,
		backends:       newRegistry(),
		httpTargets:    delivery.NewHTTPTargets(),
		store:          &countedStore{Store: st},
		watchDone:      make(chan struct{}),
		buses:          map[string]router.Bus{router.DefaultBus: builtinDefaultBus()},
		routes:         map[string]*liveRoute{},
		dedup:          newDedup(time.Duration(cfg.Dedup.Window), cfg.Dedup.MaxEvents),
		tails:          newTails(),
		schemaDocs:     map[string]storedSchema{},
		schemaWarnings: newSchemaWarnings(),
		schedules:      map[string]*liveSchedule{},
		schedulesDone:  make(chan struct{}),
	}
	b.archives = newArchives(b.backends, cfg.DefaultBackend)
	b.replays = newReplays()
	b.schemas.Store(&schema.Set{})
	if !cfg.History.Off {
		b.history = history.New(history.Options{MaxEvents: cfg.History.MaxEvents, MaxAge: time.Duration(cfg.History.MaxAge)})
	}
	b.publishState()
	fail := func(err error) (*Bus, error) {
		_ = b.Shutdown(context.Background())
		return nil, err
	}
	if err := b.startTracing(ctx); err != nil {
		return fail(err)
	}
	if cfg.Auth != nil {
		a, err := newAccess(ctx, cfg.Auth)
		if err != nil {
			return fail(err)
		}
		b.access = a
	}
	if len(cfg.Plugins) > 0 {
		host, err := plugins.NewHost(ctx, cfg.Plugins, log)
		if err != nil {
			return fail(fmt.Errorf("starting plugins: %w", err))
		}
		b.plugins = host
	}
	b.mu.Lock()
	for _, bus := range cfg.Buses {
		bus.Version, bus.Origin = 1, router.OriginConfig
		b.setBus(bus)
	}
	for _, i := range divertTargetsFirst(cfg.Routes) {
		r := cfg.Routes[i]
		r.Version, r.Origin = 1, router.OriginConfig
		if err := b.configSecrets(&r); err != nil {
			b.mu.Unlock()
			return fail(fmt.Errorf("routes[%d] (%s): %w", i, r.Name, err))
		}
		if _, _, err := b.applyRoute(ctx, r, nil); err != nil {
			b.mu.Unlock()
			return fail(fmt.Errorf("routes[%d] (%s): %w", i, r.Name, err))
		}
	}
	b.mu.Unlock()
	for _, r := range cfg.Routes {
		if lr, err := b.liveRoute(r.Name); err == nil {
			b.startFrom(ctx, lr.route)
		}
	}
	// Watch before loading, so a change made between the two is not missed.
	watchCtx, stop := context.WithCancel(context.Background())
	b.stopWatch = stop
	changes := b.store.Watch(watchCtx)
	go b.watchStore(watchCtx, changes)
	if err := b.reconcile(ctx); err != nil {
		return fail(fmt.Errorf("loading buses and routes from the store: %w", err))
	}
	if err := b.startSources(); err != nil {
		return fail(err)
	}
	b.joinCluster()
	scheduleCtx, stopSchedules := context.WithCancel(context.Background())
	b.stopSchedules = stopSchedules
	go b.runSchedules(scheduleCtx)
	return b, nil
}

// Config returns the bus's config, with defaults applied.
func (b *Bus) Config() Config { return b.cfg }

// Unready lists the backends in use that do not answer a ping, by URL,
// with why; empty when all do.
func (b *Bus) Unready(ctx context.Context) map[string]string {
	failed := map[string]string{}
	for url, err := range b.Pings(ctx) {
		if err != nil {
			failed[url] = err.Error()
		}
	}
	return failed
}

// Shutdown stops every dispatcher, then closes channels and backends. It is
// idempotent. Ingress must be stopped first (httpapi's Run does).
func (b *Bus) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	// Leave first: the other replicas take over this one's share of the
	// routes' rates while it drains.
	b.leaveCluster()
	// Sources first: they are ingress, and their handlers need Ingest
	// (which takes no lock) to finish the event in hand.
	b.stopSources()
	if b.stopSchedules != nil { // schedules emit through ingress too
		b.stopSchedules()
		b.mu.Unlock()
		<-b.schedulesDone // a firing in progress may need the lock
		b.mu.Lock()
	}
	if b.stopWatch != nil {
		b.stopWatch()
		b.mu.Unlock()
		<-b.watchDone // a reconcile in progress needs the lock to finish
		b.mu.Lock()
	}
	// Replays store on the routes' channels: they stop before those close.
	b.replays.stop()
	var wg sync.WaitGroup
	for _, lr := range b.routes {
		wg.Go(func() { b.stopDispatcher(ctx, lr, true) })
	}
	wg.Wait()
	var errs []error
	for _, lr := range b.routes {
		errs = append(errs, lr.closeChannels(ctx))
	}
	errs = append(errs, b.backends.Close())
	if b.plugins != nil {
		errs = append(errs, b.plugins.Shutdown(ctx))
	}
	errs = append(errs, b.store.Close())
	if b.stopTracing != nil {
		errs = append(errs, b.stopTracing(ctx))
	}
	return errors.Join(errs...)
}

// compile builds one matcher per bus from routes. Every known bus gets
// one, so events sent to a bus without routes are accepted and stored
// nowhere.
func (b *Bus) compile(routes map[string]*liveRoute, buses map[string]router.Bus) (map[string]*busRoutes, error) {
	rules := make(map[string]map[string]router.Rule, len(buses))
	for name := range buses {
		rules[name] = map[string]router.Rule{}
	}
	for name, lr := range routes {
		if rules[lr.route.Bus] == nil {
			rules[lr.route.Bus] = map[string]router.Rule{}
		}
		rules[lr.route.Bus][name] = lr.route.Rule()
	}
	compiled := make(map[string]*busRoutes, len(rules))
	for bus, set := range rules {
		m, err := router.NewMatcher(set, b.cfg.RuleLimits)
		if err != nil {
			return nil, errcode.Errorf(errcode.InvalidArgument, "bus %q: %w", bus, err)
		}
		br := &busRoutes{matcher: m, routes: make(map[string]*liveRoute, len(set)), acl: buses[bus].ACL, schemas: buses[bus].Schemas}
		if def, ok := buses[bus]; ok {
			br.archive = b.archives.of(def)
		}
		br.local = true
		for name := range set {
			br.routes[name] = routes[name]
			br.local = br.local && routes[name].local()
		}
		compiled[bus] = br
	}
	return compiled, nil
}

// publishState compiles the current buses and routes and swaps them in for
// ingress. Every change validated its rules first, so compiling cannot fail
// here. b.mu must be held (or the bus not yet shared).
func (b *Bus) publishState() {
	buses, err := b.compile(b.routes, b.buses)
	if err != nil {
		panic("compiling validated routes failed: " + err.Error())
	}
	b.state.Store(&snapshot{buses: buses})
}

// divertTargetsFirst orders config routes so that a route comes after the
// route its overflow diverts to, whatever order the file lists them in.
// Indices refer to routes; a divert to a route not in the list is left for
// applyRoute to report.
func divertTargetsFirst(routes []router.Route) []int {
	index := make(map[string]int, len(routes))
	for i, r := range routes {
		index[r.Name] = i
	}
	order := make([]int, 0, len(routes))
	placed := make([]bool, len(routes))
	var place func(i int, depth int)
	place = func(i int, depth int) {
		if placed[i] || depth > len(routes) { // depth bounds a divert cycle
			return
		}
		if to, ok := routes[i].Delivery.DivertTo(); ok {
			if j, exists := index[to]; exists && j != i {
				place(j, depth+1)
			}
		}
		if !placed[i] {
			placed[i] = true
			order = append(order, i)
		}
	}
	for i := range routes {
		place(i, 0)
	}
	return order
}
