package bus

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/eventbus-go/eventbus/bus/delivery"
	"github.com/eventbus-go/eventbus/router"
)

// RouteStats is the answer of GET /v1/routes/{name}/stats.
type RouteStats struct {
	Route        string `json:"route"`
	Accepted     int64  `json:"accepted"`
	Delivered    int64  `json:"delivered"`
	Retried      int64  `json:"retried"`
	DeadLettered int64  `json:"dead_lettered"`
	Dropped      int64  `json:"dropped"`
	Diverted     int64  `json:"diverted"`
	// SubscriberDrops: copies a ZeroMQ topic target did not send to a
	// subscriber whose queue was full (when_full: drop).
	SubscriberDrops int64 `json:"subscriber_drops"`
	Depth           int64 `json:"depth"`
	DeadLetters     int64 `json:"dead_letters"`
	Inflight        int64 `json:"inflight"`
	// Dispatchers is how many deliveries the route's dispatcher runs at
	// once at most (delivery.max_inflight); 0 while the route is paused.
	Dispatchers int `json:"dispatchers"`
	// Plugin is the state of the route's plugin, for a plugin target.
	Plugin       *PluginStats `json:"plugin,omitempty"`
	Blocked      int64        `json:"blocked"` // producers waiting for room (overflow: block)
	LatencyP50ms float64      `json:"latency_p50_ms"`
	LatencyP99ms float64      `json:"latency_p99_ms"`
}

// PluginStats are the processes behind a plugin target, shared by every
// route that delivers to the plugin.
type PluginStats struct {
	Name      string `json:"name"`
	Instances int    `json:"instances"` // running now
	Restarts  int64  `json:"restarts"`  // processes replaced after a crash or a hang
	Inflight  int64  `json:"inflight"`  // deliveries waiting for a verdict now, all routes together
}

// Stats reports a route's counters and its channels' depths.
func (b *Bus) Stats(ctx context.Context, route string) (RouteStats, error) {
	lr, err := b.liveRoute(route)
	if err != nil {
		return RouteStats{}, err
	}
	depth, err := lr.backend.Depth(ctx, route)
	if err != nil {
		return RouteStats{}, err
	}
	dead, err := lr.backend.Depth(ctx, route+router.DeadLetterSuffix)
	if err != nil {
		return RouteStats{}, err
	}
	s := lr.stats
	st := RouteStats{
		Route:           route,
		Accepted:        s.Accepted.Load(),
		Delivered:       s.Delivered.Load(),
		Retried:         s.Retried.Load(),
		DeadLettered:    s.DeadLettered.Load(),
		Dropped:         s.Dropped.Load(),
		Diverted:        s.Diverted.Load(),
		SubscriberDrops: s.SubscriberDrops.Load(),
		Depth:           depth,
		DeadLetters:     dead,
		Blocked:         lr.admission.waiting(),
		LatencyP50ms:    s.Latency.Quantile(0.50),
		LatencyP99ms:    s.Latency.Quantile(0.99),
	}
	if d := b.dispatcherOf(route); d != nil {
		st.Inflight = d.Busy()
		st.Dispatchers = lr.route.Delivery.MaxInflight
	}
	if p := lr.route.Target.Plugin; p != nil && b.plugins != nil {
		if ps, ok := b.plugins.Stats(p.Name); ok {
			st.Plugin = &PluginStats{Name: p.Name, Instances: ps.Ready, Restarts: ps.Restarts, Inflight: ps.InFlight}
		}
	}
	return st, nil
}

// RouteSample is what a metrics scrape reads of one route: its counters as
// they stand, and its depths and deliveries in flight at that moment.
type RouteSample struct {
	Route string
	Bus   string
	// Counters are the route's live counters: read them, never add.
	Counters *delivery.Counters
	// Depth and DeadLetters are the events waiting on the route's channel
	// and on its dead-letter channel; DepthErr, when not nil, says why the
	// backend did not tell them.
	Depth, DeadLetters int64
	DepthErr           error
	Inflight           int64
}

// Samples reads every route for a metrics scrape, in the order of their
// names. Depths are asked of the backends within ctx: a route whose
// backend does not answer in time has a DepthErr, and the scrape goes on.
func (b *Bus) Samples(ctx context.Context) []RouteSample {
	b.mu.Lock()
	samples := make([]RouteSample, 0, len(b.routes))
	routes := make([]*liveRoute, 0, len(b.routes))
	for _, name := range slices.Sorted(maps.Keys(b.routes)) {
		lr := b.routes[name]
		s := RouteSample{Route: name, Bus: cmp.Or(lr.route.Bus, router.DefaultBus), Counters: lr.stats}
		if lr.dispatcher != nil {
			s.Inflight = lr.dispatcher.Busy()
		}
		samples = append(samples, s)
		routes = append(routes, lr)
	}
	b.mu.Unlock()
	for i, lr := range routes {
		s := &samples[i]
		if s.Depth, s.DepthErr = lr.backend.Depth(ctx, s.Route); s.DepthErr != nil {
			continue
		}
		s.DeadLetters, s.DepthErr = lr.backend.Depth(ctx, s.Route+router.DeadLetterSuffix)
	}
	return samples
}

// Pings pings every backend in use, keyed by its URL without password:
// nil for one that answered within ctx, else why not.
func (b *Bus) Pings(ctx context.Context) map[string]error {
	opened := b.backends.Opened()
	pings := make(map[string]error, len(opened))
	for url, be := range opened {
		pings[url] = be.Ping(ctx)
	}
	return pings
}
