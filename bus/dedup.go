package bus

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eventbus-go/eventbus/internal/cesource"
	"github.com/eventbus-go/eventbus/internal/ringindex"
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
// ring, oldest first, numbered in sequence, and finds them through a
// ringindex.Index: a lookup touches one bucket of it, and forgetting the
// oldest entry touches nothing (a Go map from key to number needed a
// delete of its own for every entry added, another cache miss on a busy
// bus); a batch stored in turn reads all its buckets first (prefetch).
// The ring doubles when it is full, the index with it, and never moves an
// entry otherwise, so once it has grown to the shard's bound, remembering
// an event allocates nothing. The index doubles too if a bucket of it
// fills (a few times in a million additions at first, then practically
// never), so that no entry inside the bounds is forgotten.
type dedup struct {
	window    time.Duration
	maxEvents int // per shard
	seeds     [2]maphash.Seed
	shards    [dedupShards]dedupShard
}

const dedupShards = 16

type dedupShard struct {
	mu sync.Mutex
	// index finds the entries by the second word of their keys (the first
	// picks the shard), made for indexed entries; nil until the first.
	index   *ringindex.Index
	indexed int
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
// entry (its store failed, or its window passed) waits in the ring for its
// turn to go, no longer found.
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
	return d
}

// eventKey is what ingress knows an event by: its source, formatted once
// (an absolute URI is formatted anew each time it is asked for), and its
// dedup key.
type eventKey struct {
	source string
	dedup  dedupKey
}

// keyOf is e's eventKey on bus.
func (b *Bus) keyOf(bus string, e *event.Event) eventKey {
	source := cesource.Of(e)
	return eventKey{source: source, dedup: b.dedup.key(bus, source, e.ID())}
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

// A claim is the hold of the copy that stores an event on the event's
// entry, from begin to finish.
type claim struct {
	key dedupKey
	seq uint64 // the entry's number in its shard's ring
}

// begin claims key for a copy of an event that arrived at the time given,
// which its window counts from. When it returns first == true the caller
// stores the event and must call finish with the claim; otherwise it
// returns the first answer's Routes and Overflow (the caller has the id
// and source), waiting for it if the first request is still storing.
func (d *dedup) begin(ctx context.Context, key dedupKey, arrived time.Time) (c claim, result Result, first bool, err error) {
	sh := d.shard(key)
	now := arrived.UnixNano()
	for {
		sh.mu.Lock()
		sh.expireLocked(now, d.window.Nanoseconds(), d.maxEvents)
		seq, seen := sh.find(key)
		if seen && sh.entry(seq).aged(now, d.window.Nanoseconds()) {
			// Its window passed behind a younger head (copies read the
			// clock before they queue for the lock): forgotten as if it
			// had expired.
			sh.forgetLocked(seq)
			seen = false
		}
		if !seen {
			seq = sh.push(dedupEntry{key: key, at: now, pending: true})
			sh.mu.Unlock()
			return claim{key, seq}, Result{}, true, nil
		}
		e := sh.entry(seq)
		if !e.pending {
			result := Result{Routes: e.routes, Overflow: e.overflow}
			sh.mu.Unlock()
			return claim{}, result, false, nil
		}
		if e.wait == nil {
			e.wait = make(chan struct{})
		}
		wait := e.wait
		sh.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return claim{}, Result{}, false, ctx.Err()
		}
		// Look again: the first request either stored the event (its
		// answer is there) or did not (the key is free to claim).
	}
}

// prefetch readies the shards for begin with each of keys, a batch about
// to be stored one after another: each shard's index reads the places of
// its keys all at once, so that each begin finds its own in the cache.
func (d *dedup) prefetch(keys []eventKey) {
	// The index hashes grouped by shard: shard s's from start[s] to
	// start[s+1].
	var start [dedupShards + 1]int
	for _, k := range keys {
		start[k.dedup[0]%dedupShards+1]++
	}
	for s := range dedupShards {
		start[s+1] += start[s]
	}
	hashes, next := make([]uint64, len(keys)), start
	for _, ek := range keys {
		k := ek.dedup
		s := k[0] % dedupShards
		hashes[next[s]] = k[1]
		next[s]++
	}
	for s := range d.shards {
		if in := hashes[start[s]:start[s+1]]; len(in) > 0 {
			d.shards[s].prefetch(in)
		}
	}
}

func (sh *dedupShard) prefetch(hashes []uint64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.index != nil {
		sh.index.Prefetch(hashes)
	}
}

// finish records the answer of the claimed event; stored false forgets it,
// so a retry of an event that was not stored is not mistaken for a
// duplicate. The claimed entry is still in the ring: a pending entry
// does not expire.
func (d *dedup) finish(c claim, result Result, stored bool) {
	sh := d.shard(c.key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entry(c.seq)
	e.pending = false
	if stored {
		e.routes, e.overflow = result.Routes, result.Overflow
	} else {
		sh.forgetLocked(c.seq)
	}
	if e.wait != nil {
		close(e.wait)
		e.wait = nil
	}
}

func (d *dedup) shard(key dedupKey) *dedupShard { return &d.shards[key[0]%dedupShards] }

// entry returns the entry of sequence number seq, which is in the ring.
func (sh *dedupShard) entry(seq uint64) *dedupEntry { return &sh.ring[seq%uint64(len(sh.ring))] }

// find returns the number of the entry of key that is not forgotten.
func (sh *dedupShard) find(key dedupKey) (uint64, bool) {
	if sh.index == nil {
		return 0, false
	}
	return sh.index.Find(key[1], sh.head, sh.tail-sh.head, func(seq uint64) bool {
		e := sh.entry(seq)
		return e.key == key && !e.forgotten
	})
}

// push adds e at the tail of the ring, doubling the ring and its index
// when it is full, and returns e's sequence number.
func (sh *dedupShard) push(e dedupEntry) uint64 {
	if sh.tail-sh.head == uint64(len(sh.ring)) {
		grown := make([]dedupEntry, max(64, 2*len(sh.ring)))
		for seq := sh.head; seq < sh.tail; seq++ {
			grown[seq%uint64(len(grown))] = *sh.entry(seq)
		}
		sh.ring = grown
		sh.reindex(max(len(grown), sh.indexed))
	}
	seq := sh.tail
	*sh.entry(seq) = e
	sh.tail++
	if sh.index.Add(e.key[1], seq, sh.head, sh.tail-sh.head) {
		// A full bucket gave up an entry's place, and the dedup forgets
		// nothing inside its bounds: a larger index holds them all.
		sh.reindex(2 * sh.indexed)
	}
	return seq
}

// reindex makes an index for capacity entries that finds every entry not
// forgotten, larger still if capacity leaves a bucket too full, up to 16
// times the ring (past that, only keys whose hashes collide could fill a
// bucket, and the index forgets the oldest of them early).
func (sh *dedupShard) reindex(capacity int) {
	for ; ; capacity *= 2 {
		index, complete := ringindex.New(capacity), true
		for seq := sh.head; seq < sh.tail; seq++ {
			if e := sh.entry(seq); !e.forgotten && index.Add(e.key[1], seq, sh.head, sh.tail-sh.head) {
				complete = false
			}
		}
		if complete || capacity >= maxIndexedPerSlot*len(sh.ring) {
			sh.index, sh.indexed = index, capacity
			return
		}
	}
}

// maxIndexedPerSlot bounds a shard's index: at most this many ring slots'
// worth of entries.
const maxIndexedPerSlot = 16

// forgetLocked makes entry seq unfound, so the next copy of its event is
// stored afresh; the entry waits in the ring for its turn to go.
func (sh *dedupShard) forgetLocked(seq uint64) {
	e := sh.entry(seq)
	e.forgotten = true
	sh.index.Remove(e.key[1], seq)
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
		*e = dedupEntry{} // let go of its routes; the index forgets it by its number
		sh.head++
	}
}
