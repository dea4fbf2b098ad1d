// Package wakeup lets goroutines that share a mutex wait for a change made
// under it — a message published, an ack freeing room — without polling.
package wakeup

import (
	"context"
	"sync"
	"time"
)

// Signal is a broadcast for the goroutines holding one mutex. The zero
// value is ready to use; every method must be called with the mutex held.
type Signal struct {
	wake    chan struct{} // what waiters wait on; closed by Broadcast, made anew by the next Wait
	waiters int
}

// Broadcast wakes every goroutine waiting in Wait.
func (s *Signal) Broadcast() {
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
}

// Wait releases mu until Broadcast, d passes or ctx ends, then takes mu
// again. It reports false when ctx ended.
func (s *Signal) Wait(ctx context.Context, mu *sync.Mutex, d time.Duration) bool {
	if s.wake == nil {
		s.wake = make(chan struct{})
	}
	wake := s.wake
	s.waiters++
	mu.Unlock()
	timer := time.NewTimer(d)
	ok := true
	select {
	case <-wake:
	case <-timer.C:
	case <-ctx.Done():
		ok = false
	}
	timer.Stop()
	mu.Lock()
	s.waiters--
	return ok
}

// Waiters counts the goroutines in Wait.
func (s *Signal) Waiters() int { return s.waiters }
