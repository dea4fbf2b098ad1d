package bus

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Of many concurrent copies of one event, exactly one stores it and every
// other gets its answer; a copy whose first try stored nothing tries again.
func TestDedupLetsOneCopyThroughAndAnswersTheRest(t *testing.T) {
	d := newDedup(time.Minute, 1000)
	key := d.key("default", "/src", "id-1")
	var mu sync.Mutex
	stores := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			res, first, err := d.begin(context.Background(), key)
			if err != nil {
				t.Error(err)
				return
			}
			if first {
				mu.Lock()
				stores++
				mu.Unlock()
				d.finish(key, "stored", true)
				return
			}
			if res != "stored" {
				t.Errorf("a repeat got %v, want the first answer", res)
			}
		})
	}
	wg.Wait()
	if stores != 1 {
		t.Fatalf("%d copies stored the event, want exactly 1", stores)
	}

	failed := d.key("default", "/src", "id-2")
	if _, first, _ := d.begin(context.Background(), failed); !first {
		t.Fatal("a new key was not first")
	}
	d.finish(failed, nil, false)
	if _, first, _ := d.begin(context.Background(), failed); !first {
		t.Fatal("after a failed store the next copy must be stored afresh")
	}
}

// The window and the size bound both make the bus forget.
func TestDedupForgetsPastItsBounds(t *testing.T) {
	d := newDedup(50*time.Millisecond, dedupShards) // one event per shard
	old := d.key("b", "s", "old")
	d.begin(context.Background(), old)
	d.finish(old, "x", true)
	time.Sleep(60 * time.Millisecond) // let the window pass
	if _, first, _ := d.begin(context.Background(), old); !first {
		t.Error("an event past the window is still remembered")
	}
}
