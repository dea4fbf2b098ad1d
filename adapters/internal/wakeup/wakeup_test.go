package wakeup

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/internal/testkit"
)

func TestBroadcastWakesEveryWaiter(t *testing.T) {
	var mu sync.Mutex
	var s Signal
	const waiters = 3
	woke := make(chan bool, waiters)
	for range waiters {
		go func() {
			mu.Lock()
			defer mu.Unlock()
			woke <- s.Wait(context.Background(), &mu, time.Minute)
		}()
	}
	// Broadcast once every waiter waits, in the same critical section as
	// the count, so none can be missed.
	testkit.Eventually(t, 5*time.Second, "every waiter to start waiting", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if s.Waiters() != waiters {
			return false
		}
		s.Broadcast()
		return true
	})
	for range waiters {
		select {
		case ok := <-woke:
			if !ok {
				t.Fatal("a woken waiter reported its context ended")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Broadcast did not wake every waiter")
		}
	}
}

func TestWaitEndsWithItsContext(t *testing.T) {
	var mu sync.Mutex
	var s Signal
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if s.Wait(ctx, &mu, time.Minute) {
		t.Fatal("Wait reported a wake-up although its context had ended")
	}
}

// Notify wakes as many waiters as asked, longest waiting first, and leaves
// the others waiting.
func TestNotifyWakesOnlyAsManyAsAsked(t *testing.T) {
	var mu sync.Mutex
	var s Signal
	const waiters = 3
	woke := make(chan int, waiters)
	for i := range waiters {
		mu.Lock()
		go func() {
			mu.Lock()
			defer mu.Unlock()
			if s.Wait(context.Background(), &mu, time.Minute) {
				woke <- i
			}
		}()
		mu.Unlock()
		// Wait until this waiter is queued, so the order is known.
		testkit.Eventually(t, 5*time.Second, fmt.Sprintf("waiter %d to queue", i), func() bool {
			mu.Lock()
			defer mu.Unlock()
			return s.Waiters() > i
		})
	}
	mu.Lock()
	s.Notify(2)
	mu.Unlock()
	var got []int
	for range 2 {
		select {
		case i := <-woke:
			got = append(got, i)
		case <-time.After(5 * time.Second):
			t.Fatal("Notify(2) did not wake two waiters")
		}
	}
	if slices.Sort(got); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("Notify(2) woke waiters %v, want [0 1]: the longest waiting go first", got)
	}
	mu.Lock()
	left := s.Waiters()
	s.Broadcast()
	mu.Unlock()
	if left != 1 {
		t.Fatalf("%d waiters left after Notify(2) of 3, want 1", left)
	}
	select {
	case got := <-woke:
		if got != 2 {
			t.Fatalf("Broadcast woke waiter %d, want 2", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Broadcast did not wake the last waiter")
	}
}

// A waiter can be woken as its limit passes or its context ends, and
// leave without taking the wake-up; the next Wait reuses its channel,
// which must then be empty. One that leaves with its context passes the
// wake-up on.
func TestAWaiterLeavesNoWakeUpBehind(t *testing.T) {
	for _, ok := range []bool{true, false} {
		var s Signal
		late := &waiter{wake: make(chan struct{}, 1)}
		next := &waiter{wake: make(chan struct{}, 1)}
		s.waiting = []*waiter{late, next}
		s.Notify(1) // as late's timer fired
		s.leave(late, ok)
		select {
		case <-late.wake:
			t.Errorf("ok=%v: the wake-up stayed in the channel the next Wait reuses", ok)
		default:
		}
		passedOn := len(next.wake) == 1
		if passedOn == ok {
			t.Errorf("ok=%v: wake-up passed on to the next waiter: %v; want it passed on only by a waiter leaving with its context", ok, passedOn)
		}
	}
}
