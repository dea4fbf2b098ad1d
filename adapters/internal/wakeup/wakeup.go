// Package wakeup lets goroutines that share a mutex wait for a change made
// under it — a message published, an ack freeing room — without polling.
package wakeup

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Signal is a wait queue for the goroutines holding one mutex. The zero
// value is ready to use; every method must be called with the mutex held.
//
// A waiter woken must check again, under the mutex, what it waits for:
// another goroutine may have taken it first. Notify wakes only as many
// waiters as there are things to take, so a busy queue does not wake every
// idle receiver for each message.
type Signal struct {
	waiting []chan struct{} // one per goroutine in Wait, longest waiting first
}

// Broadcast wakes every goroutine waiting in Wait.
func (s *Signal) Broadcast() { s.Notify(len(s.waiting)) }

// Notify wakes up to n goroutines waiting in Wait, those waiting longest
// first.
func (s *Signal) Notify(n int) {
	n = min(n, len(s.waiting))
	for _, w := range s.waiting[:n] {
		close(w)
	}
	s.waiting = slices.Delete(s.waiting, 0, n)
}

// Wait releases mu until a Broadcast or Notify wakes it, d passes or ctx
// ends, then takes mu again. It reports false when ctx ended.
func (s *Signal) Wait(ctx context.Context, mu *sync.Mutex, d time.Duration) bool {
	wake := make(chan struct{})
	s.waiting = append(s.waiting, wake)
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
	if i := slices.Index(s.waiting, wake); i >= 0 { // not woken: leave the queue
		s.waiting = slices.Delete(s.waiting, i, i+1)
	} else if !ok {
		s.Notify(1) // woken, but leaving with its context: pass the wake-up on
	}
	return ok
}

// Waiters counts the goroutines in Wait.
func (s *Signal) Waiters() int { return len(s.waiting) }
