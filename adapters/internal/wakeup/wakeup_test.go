package wakeup

import (
	"context"
	"sync"
	"testing"
	"time"
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
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := s.waiters
		if n == waiters {
			s.Broadcast()
		}
		mu.Unlock()
		if n == waiters {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiters never started waiting")
		}
		time.Sleep(time.Millisecond)
	}
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
