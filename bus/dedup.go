package bus

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// dedup remembers the answer to each (bus, source, id) for a window, so a
// producer's retry of an event the bus already stored is answered as the
// first time and not stored again. Memory is bounded: past maxEvents the
// oldest entries are forgotten early.
//
// Keys are 128-bit hashes of (bus, source, id): they hold no pointers for
// the garbage collector to chase, and two different events collide with a
// probability around 10^-29 at 100,000 remembered events.
type dedup struct {
	window    time.Duration
	maxEvents int
	seeds     [2]maphash.Seed

	mu      sync.Mutex
	entries map[dedupKey]dedupEntry
	order   []dedupKeyAt // insertion order, for expiry and eviction
	head    int
}

type dedupKey [2]uint64

type dedupKeyAt struct {
	key dedupKey
	at  time.Time
}

// dedupEntry is one event's answer, kept by value. While pending, the
// first request is still storing it; a duplicate arriving then waits on
// wait, which is made only when someone waits.
type dedupEntry struct {
	pending bool
	result  any
	wait    chan struct{}
	at      time.Time
}

func newDedup(window time.Duration, maxEvents int) *dedup {
	return &dedup{
		window:    window,
		maxEvents: maxEvents,
		seeds:     [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		entries:   map[dedupKey]dedupEntry{},
	}
}

func (d *dedup) key(bus, source, id string) dedupKey {
	var k dedupKey
	var h maphash.Hash
	for i, seed := range d.seeds {
		h.SetSeed(seed)
		h.WriteString(bus)
		h.WriteByte(0)
		h.WriteString(source)
		h.WriteByte(0)
		h.WriteString(id)
		k[i] = h.Sum64()
	}
	return k
}

// begin claims key. When it returns first == true the caller stores the
// event and must call finish; otherwise it returns the first answer,
// waiting for it if the first request is still storing.
func (d *dedup) begin(ctx context.Context, key dedupKey) (result any, first bool, err error) {
	for {
		d.mu.Lock()
		now := time.Now()
		d.expireLocked(now)
		e, seen := d.entries[key]
		if !seen {
			d.entries[key] = dedupEntry{pending: true, at: now}
			d.order = append(d.order, dedupKeyAt{key: key, at: now})
			d.mu.Unlock()
			return nil, true, nil
		}
		if !e.pending {
			d.mu.Unlock()
			return e.result, false, nil
		}
		if e.wait == nil {
			e.wait = make(chan struct{})
			d.entries[key] = e
		}
		d.mu.Unlock()
		select {
		case <-e.wait:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		// Look again: the first request either stored the event (its
		// answer is there) or did not (the key is free to claim).
	}
}

// finish records the answer for key; stored false forgets the key, so a
// retry of an event that was not stored is not mistaken for a duplicate.
func (d *dedup) finish(key dedupKey, result any, stored bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.entries[key]
	if stored {
		d.entries[key] = dedupEntry{result: result, at: e.at}
	} else {
		delete(d.entries, key)
	}
	if e.wait != nil {
		close(e.wait)
	}
}

func (d *dedup) expireLocked(now time.Time) {
	for d.head < len(d.order) {
		k := d.order[d.head]
		if now.Sub(k.at) < d.window && len(d.order)-d.head <= d.maxEvents {
			break
		}
		if e, ok := d.entries[k.key]; ok && e.at.Equal(k.at) {
			if e.pending {
				break // still being stored; it expires once answered
			}
			delete(d.entries, k.key)
		}
		d.order[d.head] = dedupKeyAt{}
		d.head++
	}
	if d.head > 1024 && d.head > len(d.order)/2 {
		d.order = append(d.order[:0], d.order[d.head:]...)
		d.head = 0
	}
}
