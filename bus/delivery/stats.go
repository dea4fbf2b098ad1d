package delivery

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Counters count what happened to a route's events since the process
// started. They survive replacing the route; ingress counts its part.
type Counters struct {
	Accepted     atomic.Int64 // stored on the route's channel by ingress
	Delivered    atomic.Int64 // acked by the target
	Retried      atomic.Int64 // attempts that failed and were scheduled again
	DeadLettered atomic.Int64 // moved to the dead-letter channel
	Dropped      atomic.Int64 // discarded: a drop verdict, drop-oldest, or dead_letter false
	Diverted     atomic.Int64 // sent to the divert route because this one was full
	// SubscriberDrops counts copies a ZeroMQ topic target did not send to
	// a subscriber whose queue was full (when_full: drop): one event
	// missed by two subscribers counts two.
	SubscriberDrops atomic.Int64
	Latency         LatencyHistogram
}

// LatencyHistogram keeps accept-to-delivery latencies in logarithmic
// buckets, four per doubling (each about 19% wide), from 1µs to ~18 hours.
// They count from when ingress took the event in (adapters.MetaAcceptedAt),
// so a wait for room on a full route is part of them.
type LatencyHistogram struct {
	mu      sync.Mutex
	buckets [144]uint64
	total   uint64
	sum     time.Duration
}

const bucketsPerDoubling = 4

func (h *LatencyHistogram) observe(d time.Duration) {
	us := max(float64(d.Microseconds()), 1)
	i := min(int(math.Log2(us)*bucketsPerDoubling), len(h.buckets)-1)
	h.mu.Lock()
	h.buckets[i]++
	h.total++
	h.sum += d
	h.mu.Unlock()
}

// Quantile returns the upper bound of the bucket holding quantile q, in
// milliseconds; 0 when nothing was observed.
func (h *LatencyHistogram) Quantile(q float64) float64 {
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

// Cumulative reads the histogram at coarser bounds, for a metrics scrape:
// one bucket per doubling from 2^minExp to 2^maxExp microseconds, each
// bound in seconds with the count of observations at or below it, then
// the count and sum (in seconds) of all observations. Bucket i of the fine
// histogram ends at 2^((i+1)/4) µs, so every bound here is exact.
func (h *LatencyHistogram) Cumulative(minExp, maxExp int) (buckets map[float64]uint64, count uint64, sumSeconds float64) {
	buckets = make(map[float64]uint64, maxExp-minExp+1)
	h.mu.Lock()
	defer h.mu.Unlock()
	var seen uint64
	for i, n := range h.buckets {
		seen += n
		if (i+1)%bucketsPerDoubling != 0 {
			continue
		}
		exp := (i + 1) / bucketsPerDoubling
		if exp >= minExp && exp <= maxExp {
			buckets[math.Exp2(float64(exp))/1e6] = seen
		}
	}
	return buckets, h.total, h.sum.Seconds()
}
