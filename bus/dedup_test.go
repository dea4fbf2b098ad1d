package bus

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Of many concurrent copies of one event, exactly one stores it and every
// other gets its answer; a copy whose first try stored nothing tries again.
func TestDedupLetsOneCopyThroughAndAnswersTheRest(t *testing.T) {
	d := newDedup(time.Minute, 1000)
	now := time.Now()
	key := d.key("default", "/src", "id-1")
	var mu sync.Mutex
	stores := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			c, res, first, err := d.begin(context.Background(), key, now)
			if err != nil {
				t.Error(err)
				return
			}
			if first {
				mu.Lock()
				stores++
				mu.Unlock()
				d.finish(c, Result{Routes: []string{"stored"}}, true)
				return
			}
			if len(res.Routes) != 1 || res.Routes[0] != "stored" {
				t.Errorf("a repeat got %v, want the first answer", res)
			}
		})
	}
	wg.Wait()
	if stores != 1 {
		t.Fatalf("%d copies stored the event, want exactly 1", stores)
	}

	failed := d.key("default", "/src", "id-2")
	c, _, first, _ := d.begin(context.Background(), failed, now)
	if !first {
		t.Fatal("a new key was not first")
	}
	d.finish(c, Result{}, false)
	if _, _, first, _ := d.begin(context.Background(), failed, now); !first {
		t.Fatal("after a failed store the next copy must be stored afresh")
	}
}

// The window makes the bus forget: an event is remembered until its window
// has passed, measured from when each copy arrived, and not a moment longer.
func TestDedupForgetsAnEventOnceItsWindowPasses(t *testing.T) {
	const window = time.Minute
	d := newDedup(window, 1000)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	old := d.key("b", "s", "old")
	c, _, _, _ := d.begin(context.Background(), old, now)
	d.finish(c, Result{Routes: []string{"x"}}, true)

	now = now.Add(window - time.Nanosecond)
	if _, res, first, _ := d.begin(context.Background(), old, now); first || len(res.Routes) != 1 || res.Routes[0] != "x" {
		t.Fatalf("just inside the window: first=%v, answer %v; want the first answer again, so a producer's retry is not stored twice", first, res)
	}
	now = now.Add(time.Nanosecond)
	if _, _, first, _ := d.begin(context.Background(), old, now); !first {
		t.Error("an event past the window is still remembered; memory would grow with every event ever seen")
	}
}

// Copies read the clock before they queue for a shard's lock, so an entry
// can be older than the one before it in the ring. Its window still ends
// on time, with the younger entry at the head not yet expired.
func TestDedupForgetsAnEntryOlderThanTheHeadOnTime(t *testing.T) {
	const window = time.Minute
	d := newDedup(window, 1000)
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	head := d.key("b", "s", "head")
	var behind dedupKey
	for i := 0; behind == (dedupKey{}) || d.shard(behind) != d.shard(head); i++ {
		behind = d.key("b", "s", fmt.Sprint("behind-", i))
	}
	c, _, _, _ := d.begin(context.Background(), head, t0.Add(time.Second))
	d.finish(c, Result{Routes: []string{"x"}}, true)
	c, _, _, _ = d.begin(context.Background(), behind, t0)
	d.finish(c, Result{Routes: []string{"x"}}, true)

	if _, _, first, _ := d.begin(context.Background(), behind, t0.Add(window)); !first {
		t.Error("an event is remembered past its window because a younger one is ahead of it in the ring")
	}
	if _, _, first, _ := d.begin(context.Background(), head, t0.Add(window)); first {
		t.Error("the younger event is forgotten before its window passed")
	}
}

// The size bound makes the bus forget early: past max_events the oldest
// entries go, whatever the window says.
func TestDedupForgetsTheOldestPastItsSize(t *testing.T) {
	d := newDedup(time.Hour, dedupShards) // one event per shard
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	old := d.key("b", "s", "old")
	c, _, _, _ := d.begin(context.Background(), old, now)
	d.finish(c, Result{Routes: []string{"x"}}, true)
	// Fill old's shard with newer events until it holds more than one.
	for i := 0; ; i++ {
		k := d.key("b", "s", fmt.Sprint("new-", i))
		if d.shard(k) != d.shard(old) {
			continue
		}
		now = now.Add(time.Second)
		c, _, _, _ := d.begin(context.Background(), k, now)
		d.finish(c, Result{Routes: []string{"y"}}, true)
		break
	}
	now = now.Add(time.Second)
	if _, _, first, _ := d.begin(context.Background(), old, now); !first {
		t.Error("the oldest event is still remembered past the size bound; memory would not be bounded")
	}
}

// Entries keep their answers as the ring grows and wraps. An entry pending
// at the head holds every later one (a ring many times the bound), and
// once it is answered the shard keeps exactly the newest 100, its bound,
// each with the answer it was given.
func TestDedupRemembersAcrossTheRingsGrowthAndWrap(t *testing.T) {
	const perShard = 100
	d := newDedup(time.Hour, perShard*dedupShards)
	ctx := context.Background()
	now := time.Now()
	pending := d.key("b", "s", "pending")
	held, _, first, _ := d.begin(ctx, pending, now)
	if !first {
		t.Fatal("a new key was not first")
	}
	var keys []dedupKey
	for i := range 20 * perShard * dedupShards {
		k := d.key("b", "s", fmt.Sprint(i))
		if d.shard(k) != d.shard(pending) {
			continue
		}
		keys = append(keys, k)
		c, _, first, _ := d.begin(ctx, k, now)
		if !first {
			t.Fatalf("event %d: a new key was not first", i)
		}
		d.finish(c, Result{Routes: []string{fmt.Sprint(i)}}, true)
	}
	d.finish(held, Result{Routes: []string{"pending"}}, true)
	if _, _, first, _ := d.begin(ctx, keys[len(keys)-perShard-1], now); !first {
		t.Error("an event older than the newest 100 is still remembered past the bound")
	}
	for i, k := range keys[len(keys)-perShard+1:] { // the line above took one place
		_, res, first, _ := d.begin(ctx, k, now)
		if first {
			t.Fatalf("recent event %d of %d was forgotten", i, perShard)
		}
		if d.key("b", "s", res.Routes[0]) != k {
			t.Fatalf("recent event %d got the answer of another event: %v", i, res)
		}
	}
}

// A bucket of a shard's index that fills does not make the dedup forget
// one of its entries, as the event history may: the index grows instead.
// The keys here share the bucket of a 64-entry index and fill it.
func TestDedupKeepsEveryEntryWhenABucketOfItsIndexFills(t *testing.T) {
	var sh dedupShard
	key := func(i uint64) dedupKey { return dedupKey{0, (i+1)<<32 | i<<4} } // one bucket of 16, two of 32
	for i := range uint64(17) {
		sh.push(dedupEntry{key: key(i)})
	}
	if sh.indexed <= len(sh.ring) {
		t.Errorf("the index is made for %d entries, no more than the ring's %d slots; want it grown", sh.indexed, len(sh.ring))
	}
	for i := range uint64(17) {
		if seq, ok := sh.find(key(i)); !ok || seq != i {
			t.Errorf("entry %d found as %d, %v; want every entry found", i, seq, ok)
		}
	}
}
