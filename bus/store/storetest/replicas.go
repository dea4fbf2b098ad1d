package storetest

import (
	"testing"
	"time"

	"github.com/eventbus-go/eventbus/bus/store"
)

// RunReplicas checks the store.Replicas contract on two handles a and b of
// one shared store (two processes' connections, or one Memory twice):
// each heartbeat counts the replicas seen within the ttl, itself included;
// one not heard from within the ttl no longer counts; Leave removes one at
// once.
func RunReplicas(t *testing.T, a, b store.Replicas) {
	ctx := t.Context()
	beat := func(s store.Replicas, id string, ttl time.Duration, want int, why string) {
		t.Helper()
		n, err := s.Heartbeat(ctx, id, ttl)
		if err != nil {
			t.Fatalf("Heartbeat(%s): %v", id, err)
		}
		if n != want {
			t.Fatalf("Heartbeat(%s) counted %d replicas, want %d: %s", id, n, want, why)
		}
	}
	beat(a, "one", time.Hour, 1, "a replica alone counts itself")
	beat(b, "two", time.Hour, 2, "a second replica sees the first")
	beat(a, "one", time.Hour, 2, "the first sees the second")
	beat(b, "two", time.Nanosecond, 1, "a replica not heard from within the ttl is gone: its share of a rate goes to the others")
	if err := b.Leave(ctx, "two"); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	beat(a, "one", time.Hour, 1, "a replica that left no longer counts")
}
