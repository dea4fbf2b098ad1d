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
//
// The keys are spread over shards, each with its own lock, so concurrent
// requests rarely wait for each other.
type dedup struct {
	window    time.Duration
	maxEvents int // per shard
	seeds     [2]maphash.Seed
	shards    [dedupShards]dedupShard
	now       func() time.Time // the clock the window is measured on; time.Now outside tests
}

const dedupShards = 16

type dedupShard struct {
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
	result  Result
	wait    chan struct{}
	at      time.Time
}

func newDedup(window time.Duration, maxEvents int) *dedup {
	d := &dedup{
		window:    window,
		maxEvents: max(maxEvents/dedupShards, 1),
		seeds:     [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		now:       time.Now,
	}
	for i := range d.shards {
		d.shards[i].entries = map[dedupKey]dedupEntry{}
	}
	return d
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
func (d *dedup) begin(ctx context.Context, key dedupKey) (result Result, first bool, err error) {
	sh := d.shard(key)
	for {
		sh.mu.Lock()
		now := d.now()
		sh.expireLocked(now, d.window, d.maxEvents)
		e, seen := sh.entries[key]
		if !seen {
			sh.entries[key] = dedupEntry{pending: true, at: now}
			sh.order = append(sh.order, dedupKeyAt{key: key, at: now})
			sh.mu.Unlock()
			return Result{}, true, nil
		}
		if !e.pending {
			sh.mu.Unlock()
			return e.result, false, nil
		}
		if e.wait == nil {
			e.wait = make(chan struct{})
			sh.entries[key] = e
		}
		sh.mu.Unlock()
		select {
		case <-e.wait:
		case <-ctx.Done():
			return Result{}, false, ctx.Err()
		}
		// Look again: the first request either stored the event (its
		// answer is there) or did not (the key is free to claim).
	}
}

// finish records the answer for key; stored false forgets the key, so a
// retry of an event that was not stored is not mistaken for a duplicate.
func (d *dedup) finish(key dedupKey, result Result, stored bool) {
	sh := d.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entries[key]
	if stored {
		sh.entries[key] = dedupEntry{result: result, at: e.at}
	} else {
		delete(sh.entries, key)
	}
	if e.wait != nil {
		close(e.wait)
	}
}

func (d *dedup) shard(key dedupKey) *dedupShard { return &d.shards[key[0]%dedupShards] }

// expireLocked forgets the shard's entries older than window, and its
// oldest beyond maxEvents.
func (sh *dedupShard) expireLocked(now time.Time, window time.Duration, maxEvents int) {
	for sh.head < len(sh.order) {
		k := sh.order[sh.head]
		if now.Sub(k.at) < window && len(sh.order)-sh.head <= maxEvents {
			break
		}
		if e, ok := sh.entries[k.key]; ok && e.at.Equal(k.at) {
			if e.pending {
				break // still being stored; it expires once answered
			}
			delete(sh.entries, k.key)
		}
		sh.order[sh.head] = dedupKeyAt{}
		sh.head++
	}
	if sh.head > 1024 && sh.head > len(sh.order)/2 {
		sh.order = append(sh.order[:0], sh.order[sh.head:]...)
		sh.head = 0
	}
}
