package bus

import (
	"context"
	"sync"
	"time"
)

// dedup remembers the answer to each (bus, source, id) for a window, so a
// producer's retry of an event the bus already stored is answered as the
// first time and not stored again. Memory is bounded: past maxEvents the
// oldest entries are forgotten early.
type dedup struct {
	window    time.Duration
	maxEvents int

	mu      sync.Mutex
	entries map[string]*dedupEntry
	order   []dedupKey // insertion order, for expiry and eviction
	head    int
}

type dedupKey struct {
	key string
	at  time.Time
}

// dedupEntry is one event's answer; done closes once result is known.
type dedupEntry struct {
	done   chan struct{}
	result any
	at     time.Time
}

func newDedup(window time.Duration, maxEvents int) *dedup {
	return &dedup{window: window, maxEvents: maxEvents, entries: map[string]*dedupEntry{}}
}

// begin claims key. When it returns first == true the caller stores the
// event and must call finish; otherwise it returns the first answer,
// waiting for it if the first request is still storing.
func (d *dedup) begin(ctx context.Context, key string) (entry *dedupEntry, first bool, err error) {
	for {
		d.mu.Lock()
		now := time.Now()
		d.expireLocked(now)
		e, seen := d.entries[key]
		if !seen {
			e = &dedupEntry{done: make(chan struct{}), at: now}
			d.entries[key] = e
			d.order = append(d.order, dedupKey{key: key, at: now})
			d.mu.Unlock()
			return e, true, nil
		}
		d.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if e.result != nil {
			return e, false, nil
		}
		// The first request stored nothing: this one tries afresh.
	}
}

// finish records the answer for key; stored false forgets the key, so a
// retry of an event that was not stored is not mistaken for a duplicate.
func (d *dedup) finish(key string, e *dedupEntry, result any, stored bool) {
	d.mu.Lock()
	if stored {
		e.result = result
	} else if d.entries[key] == e {
		delete(d.entries, key)
	}
	d.mu.Unlock()
	close(e.done)
}

func (d *dedup) expireLocked(now time.Time) {
	for d.head < len(d.order) {
		k := d.order[d.head]
		if now.Sub(k.at) < d.window && len(d.order)-d.head <= d.maxEvents {
			break
		}
		e, ok := d.entries[k.key]
		if ok && e.at.Equal(k.at) {
			if !isDone(e) {
				break // still being stored; it expires once answered
			}
			delete(d.entries, k.key)
		}
		d.order[d.head] = dedupKey{}
		d.head++
	}
	if d.head > 1024 && d.head > len(d.order)/2 {
		d.order = append(d.order[:0], d.order[d.head:]...)
		d.head = 0
	}
}

func isDone(e *dedupEntry) bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}
