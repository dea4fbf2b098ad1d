package bus

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventbus-go/eventbus/router"
)

// routeStats counts what happened to a route's events since the process
// started. It survives replacing the route.
type routeStats struct {
	accepted     atomic.Int64 // stored on the route's channel by ingress
	delivered    atomic.Int64 // acked by the target
	retried      atomic.Int64 // attempts that failed and were scheduled again
	deadLettered atomic.Int64 // moved to the dead-letter channel
	dropped      atomic.Int64 // discarded: a drop verdict, drop-oldest, or dead_letter false
	diverted     atomic.Int64 // sent to the divert route because this one was full
	latency      latencyHistogram
}

// RouteStats is the answer of GET /v1/routes/{name}/stats.
type RouteStats struct {
	Route        string  `json:"route"`
	Accepted     int64   `json:"accepted"`
	Delivered    int64   `json:"delivered"`
	Retried      int64   `json:"retried"`
	DeadLettered int64   `json:"dead_lettered"`
	Dropped      int64   `json:"dropped"`
	Diverted     int64   `json:"diverted"`
	Depth        int64   `json:"depth"`
	DeadLetters  int64   `json:"dead_letters"`
	Inflight     int64   `json:"inflight"`
	Blocked      int64   `json:"blocked"` // producers waiting for room (overflow: block)
	LatencyP50ms float64 `json:"latency_p50_ms"`
	LatencyP99ms float64 `json:"latency_p99_ms"`
}

// latencyHistogram keeps accept-to-delivery latencies in logarithmic
// buckets, four per doubling (each about 19% wide), from 1µs to ~18 hours.
type latencyHistogram struct {
	mu      sync.Mutex
	buckets [144]uint64
	total   uint64
}

const bucketsPerDoubling = 4

func (h *latencyHistogram) observe(d time.Duration) {
	us := max(float64(d.Microseconds()), 1)
	i := min(int(math.Log2(us)*bucketsPerDoubling), len(h.buckets)-1)
	h.mu.Lock()
	h.buckets[i]++
	h.total++
	h.mu.Unlock()
}

// quantile returns the upper bound of the bucket holding quantile q, in
// milliseconds; 0 when nothing was observed.
func (h *latencyHistogram) quantile(q float64) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	var seen uint64
	for i, n := range h.buckets {
		seen += n
		if seen >= rank {
			upperUS := math.Exp2(float64(i+1) / bucketsPerDoubling)
			return upperUS / 1000
		}
	}
	return math.Inf(1)
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
		Route:        route,
		Accepted:     s.accepted.Load(),
		Delivered:    s.delivered.Load(),
		Retried:      s.retried.Load(),
		DeadLettered: s.deadLettered.Load(),
		Dropped:      s.dropped.Load(),
		Diverted:     s.diverted.Load(),
		Depth:        depth,
		DeadLetters:  dead,
		Blocked:      lr.admission.waiting(),
		LatencyP50ms: s.latency.quantile(0.50),
		LatencyP99ms: s.latency.quantile(0.99),
	}
	if d := b.dispatcherOf(route); d != nil {
		st.Inflight = d.busy.Load()
	}
	return st, nil
}
