package adaptertest

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/adapters"
)

// CheckPerKeyOrder consumes keys×perKey events whose ids are "k<key>-<seq>"
// from subs, nacking every third first delivery of key k3, and fails if an
// event arrives other than next in its key's order. Since the next event is
// due only once the previous one is acked, this also fails when a key has
// two events in flight at once.
func CheckPerKeyOrder(t *testing.T, subs []*adapters.Subscription, keys, perKey int) {
	t.Helper()
	var mu sync.Mutex
	next := map[string]int{} // key → the sequence number due next
	nacked := map[string]bool{}
	acked := 0
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, sub := range subs {
		for range 8 {
			wg.Go(func() {
				for {
					m, err := sub.Receive(ctx)
					if err != nil {
						return
					}
					id := m.Metadata["id"]
					key, seqStr, _ := strings.Cut(id, "-")
					seq, _ := strconv.Atoi(seqStr)
					mu.Lock()
					if seq != next[key] {
						t.Errorf("received %s, want %s-%03d next: a key's events come one at a time, in publish order", id, key, next[key])
					}
					fail := key == "k3" && seq%3 == 0 && !nacked[id]
					if fail {
						nacked[id] = true
					} else {
						next[key] = seq + 1
						if acked++; acked == keys*perKey {
							cancel()
						}
					}
					mu.Unlock()
					if fail {
						m.Nack() // a failed delivery: it must come back before k3's next event
					} else {
						m.Ack()
					}
				}
			})
		}
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if acked != keys*perKey {
		t.Fatalf("acked %d of %d events within the time limit (next due per key: %v)", acked, keys*perKey, next)
	}
}
