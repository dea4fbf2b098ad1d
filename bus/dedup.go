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
// requests rarely wait for each other. A shard keeps its entries in a
// ring, oldest first, found through a map from key to sequence number:
// the map holds no pointers, so the garbage collector skips it, and its
// slots are small, so a lookup touches little memory. The ring doubles
// when it is full and never moves an entry otherwise, so once it has
// grown to the shard's bound, remembering an event allocates nothing.
type dedup struct {
	window    time.Duration
	maxEvents int // per shard
	seeds     [2]maphash.Seed
	shards    [dedupShards]dedupShard
}

const dedupShards = 16

type dedupShard struct {
	mu sync.Mutex
	// index holds the sequence number of each remembered key's entry.
	index map[dedupKey]uint64
	// ring holds the entries of sequence numbers head to tail-1, in the
	// order they were added, entry seq at ring[seq%len(ring)].
	ring       []dedupEntry
	head, tail uint64
}

type dedupKey [2]uint64

// dedupEntry is one event's answer: the routes that stored it and the
// overflow on the way (its id and source are the duplicate's own, and an
// answer is kept only when the event was stored, without error). While
// pending, the first request is still storing it; a duplicate arriving
// then waits on wait, which is made only when someone waits. A forgotten
// entry (its store failed) waits in the ring for its turn to go, no
// longer in the index.
type dedupEntry struct {
	key dedupKey
	// at is when the copy that claimed it arrived, in Unix nanoseconds:
	// read before the lock, so an entry may be a little older than the one
	// before it in the ring (see aged).
	at        int64
	pending   bool
	forgotten bool
	wait      chan struct{}
	routes    []string
	overflow  []OverflowAction
}

func newDedup(window time.Duration, maxEvents int) *dedup {
	d := &dedup{
		window:    window,
		maxEvents: max(maxEvents/dedupShards, 1),
		seeds:     [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
	}
	for i := range d.shards {
		d.shards[i].index = map[dedupKey]uint64{}
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

// begin claims key for a copy of an event that arrived at the time given,
// which its window counts from. When it returns first == true the caller
// stores the event and must call finish; otherwise it returns the first
// answer's Routes and Overflow (the caller has the id and source), waiting
// for it if the first request is still storing.
func (d *dedup) begin(ctx context.Context, key dedupKey, arrived time.Time) (result Result, first bool, err error) {
	sh := d.shard(key)
	now := arrived.UnixNano()
	for {
		sh.mu.Lock()
		sh.expireLocked(now, d.window.Nanoseconds(), d.maxEvents)
		seq, seen := sh.index[key]
		if seen && sh.entry(seq).aged(now, d.window.Nanoseconds()) {
			// Its window passed behind a younger head (copies read the
			// clock before they queue for the lock): forgotten as if it
			// had expired.
			sh.forgetLocked(sh.entry(seq))
			seen = false
		}
		if !seen {
			sh.index[key] = sh.push(dedupEntry{key: key, at: now, pending: true})
			sh.mu.Unlock()
			return Result{}, true, nil
		}
		e := sh.entry(seq)
		if !e.pending {
			result := Result{Routes: e.routes, Overflow: e.overflow}
			sh.mu.Unlock()
			return result, false, nil
		}
		if e.wait == nil {
			e.wait = make(chan struct{})
		}
		wait := e.wait
		sh.mu.Unlock()
		select {
		case <-wait:
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
	e := sh.entry(sh.index[key])
	e.pending = false
	if stored {
		e.routes, e.overflow = result.Routes, result.Overflow
	} else {
		sh.forgetLocked(e)
	}
	if e.wait != nil {
		close(e.wait)
		e.wait = nil
	}
}

func (d *dedup) shard(key dedupKey) *dedupShard { return &d.shards[key[0]%dedupShards] }

// entry returns the entry of sequence number seq, which is in the ring.
func (sh *dedupShard) entry(seq uint64) *dedupEntry { return &sh.ring[seq%uint64(len(sh.ring))] }

// push adds e at the tail of the ring, doubling the ring when it is full,
// and returns e's sequence number.
func (sh *dedupShard) push(e dedupEntry) uint64 {
	if sh.tail-sh.head == uint64(len(sh.ring)) {
		grown := make([]dedupEntry, max(64, 2*len(sh.ring)))
		for seq := sh.head; seq < sh.tail; seq++ {
			grown[seq%uint64(len(grown))] = *sh.entry(seq)
		}
		sh.ring = grown
	}
	seq := sh.tail
	*sh.entry(seq) = e
	sh.tail++
	return seq
}

// forgetLocked takes e's key out of the index, so the next copy of its
// event is stored afresh; e waits in the ring for its turn to go.
func (sh *dedupShard) forgetLocked(e *dedupEntry) {
	e.forgotten = true
	delete(sh.index, e.key)
}

// aged reports whether the window of e, an answered entry, has passed:
// it is forgotten then even while a younger one ahead of it in the ring
// waits for its own.
func (e *dedupEntry) aged(now, window int64) bool {
	return !e.pending && now-e.at >= window
}

// expireLocked forgets the shard's entries older than window, and its
// oldest beyond maxEvents.
func (sh *dedupShard) expireLocked(now, window int64, maxEvents int) {
	for sh.head < sh.tail {
		e := sh.entry(sh.head)
		if now-e.at < window && sh.tail-sh.head <= uint64(maxEvents) {
			break
		}
		if e.pending {
			break // still being stored; it expires once answered
		}
		if !e.forgotten {
			delete(sh.index, e.key)
		}
		*e = dedupEntry{} // let go of its routes
		sh.head++
	}
}
