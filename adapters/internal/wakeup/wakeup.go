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
	waiting []*waiter // one per goroutine in Wait, longest waiting first
}

// waiter is one goroutine's place in a Signal's queue: a channel with room
// for the one wake-up Notify sends it, and a timer for Wait's limit. Both
// are reused through the pool, so waiting allocates nothing: a receiver
// waits once for every message on a quiet channel.
type waiter struct {
	wake  chan struct{}
	timer *time.Timer
}

var waiters = sync.Pool{New: func() any {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	return &waiter{wake: make(chan struct{}, 1), timer: timer}
}}

// Broadcast wakes every goroutine waiting in Wait.
func (s *Signal) Broadcast() { s.Notify(len(s.waiting)) }

// Notify wakes up to n goroutines waiting in Wait, those waiting longest
// first.
func (s *Signal) Notify(n int) {
	n = min(n, len(s.waiting))
	for _, w := range s.waiting[:n] {
		w.wake <- struct{}{} // never blocks: a queued waiter's channel is empty
	}
	s.waiting = slices.Delete(s.waiting, 0, n)
}

// Wait releases mu until a Broadcast or Notify wakes it, d passes or ctx
// ends, then takes mu again. It reports false when ctx ended.
func (s *Signal) Wait(ctx context.Context, mu *sync.Mutex, d time.Duration) bool {
	w := waiters.Get().(*waiter)
	s.waiting = append(s.waiting, w)
	mu.Unlock()
	w.timer.Reset(d)
	ok := true
	select {
	case <-w.wake:
	case <-w.timer.C:
	case <-ctx.Done():
		ok = false
	}
	w.timer.Stop() // no stale tick is received after Stop
	mu.Lock()
	s.leave(w, ok)
	waiters.Put(w) // out of the queue, under mu: nothing sends to it now
	return ok
}

// leave takes w out of the queue after its wait, which ended with its
// context when ok is false. A wake-up w was sent is taken out of its
// channel, which w's next use must find empty, and passed on if w leaves
// with its context. The mutex must be held.
func (s *Signal) leave(w *waiter, ok bool) {
	if i := slices.Index(s.waiting, w); i >= 0 { // not woken
		s.waiting = slices.Delete(s.waiting, i, i+1)
		return
	}
	select { // woken, maybe as its limit passed or its context ended
	case <-w.wake:
	default:
	}
	if !ok {
		s.Notify(1)
	}
}

// Waiters counts the goroutines in Wait.
func (s *Signal) Waiters() int { return len(s.waiting) }
