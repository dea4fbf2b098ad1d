package bus

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventbus-go/eventbus/bus/delivery"
)

// admission counts a route's events that are stored and not yet finished
// (delivered, dead-lettered or dropped), and caps them at max_depth. The
// count starts from the backend's depth when the route opens; while several
// replicas run, it is set to the backend's depth again every heartbeat
// (cluster.go), since one replica's events are finished by another.
type admission struct {
	count atomic.Int64
	max   atomic.Int64 // 0: no cap

	mu      sync.Mutex
	waiters int
	freed   chan struct{} // closed and replaced when room is made for waiters
}

// Delivery gives back an event's room when it finishes.
var _ delivery.Room = (*admission)(nil)

func newAdmission(initial int64) *admission {
	a := &admission{freed: make(chan struct{})}
	a.count.Store(initial)
	return a
}

func (a *admission) setMax(n int) { a.max.Store(int64(n)) }

// TryAcquire takes room for one event, or reports that there is none.
func (a *admission) TryAcquire() bool {
	limit := a.max.Load()
	if limit == 0 {
		a.count.Add(1)
		return true
	}
	for {
		n := a.count.Load()
		if n >= limit {
			return false
		}
		if a.count.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// acquire waits up to timeout for room.
func (a *admission) acquire(ctx context.Context, timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		if a.TryAcquire() {
			return true
		}
		a.mu.Lock()
		a.waiters++
		freed := a.freed
		a.mu.Unlock()
		// Room may have been made between TryAcquire and registering.
		if a.TryAcquire() {
			a.leave()
			return true
		}
		select {
		case <-freed:
			a.leave()
		case <-timer.C:
			a.leave()
			return false
		case <-ctx.Done():
			a.leave()
			return false
		}
	}
}

func (a *admission) leave() {
	a.mu.Lock()
	a.waiters--
	a.mu.Unlock()
}

// Release gives back the room of one finished event.
func (a *admission) Release() {
	// Never below zero: sync may have set the count to a depth that did
	// not yet hold the event released.
	if a.count.Add(-1) < 0 {
		a.count.CompareAndSwap(-1, 0)
	}
	a.mu.Lock()
	if a.waiters > 0 {
		close(a.freed)
		a.freed = make(chan struct{})
	}
	a.mu.Unlock()
}

// sync sets the count to the backend's depth, and wakes the producers
// waiting for room if that made some.
func (a *admission) sync(depth int64) {
	a.count.Store(depth)
	a.mu.Lock()
	if a.waiters > 0 {
		close(a.freed)
		a.freed = make(chan struct{})
	}
	a.mu.Unlock()
}

// waiting counts producers blocked waiting for room.
func (a *admission) waiting() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int64(a.waiters)
}
