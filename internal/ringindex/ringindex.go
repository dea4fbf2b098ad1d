// Package ringindex finds the entries of a ring by the hash of their keys.
//
// A ring here numbers its entries in sequence as it adds them and drops
// them oldest first: its live entries are those numbered head to
// head+live-1. An Index needs to hear only of the entries added: one whose
// number fell below the ring's head is gone, and its place in the index is
// free for the next, so dropping the oldest entry costs the index nothing.
// A Go map would have to be told of every drop, and deleting a key from a
// large map is a cache miss of its own; a lookup or an addition here
// touches one bucket of 128 bytes.
//
// Each key hashes to a bucket of 16 places, each holding a 31-bit
// fingerprint of the hash and the low 32 bits of the entry's number, which
// the offset from the ring's head makes whole again (so a place is free
// once its number fell behind the head, modulo 2^32: a place left alone
// for 2^32 additions may seem live again, which the caller's check of the
// key makes harmless). There are at least a quarter as many buckets as
// the ring holds entries at most (a power of two: 32 to 64 bytes of index
// an entry), so a full ring puts at most 4 entries in a bucket on average.
// When all 16 places of a bucket hold live entries, an addition takes the
// place of the oldest, which the index then no longer finds, and says so:
// the caller may forget that entry early, or build a larger index. On a
// full ring at 4 entries a bucket, about 5 additions in a million do that
// (a Poisson estimate); at 3, about 1 in 7 million. Callers check a found
// entry's key: two keys may share a bucket and a fingerprint.
//
// An Index is not safe for concurrent use; the ring's lock guards both.
package ringindex

import "math/bits"

// ways is the number of places in a bucket: 16 of 8 bytes, two cache lines.
const ways = 16

type bucket [ways]uint64

// An Index finds a ring's live entries by the hash of their keys.
type Index struct {
	buckets []bucket
	mask    uint64
}

// MaxCapacity is the most entries a ring may hold for an Index to find
// them: their numbers' low 32 bits, read from the head, must tell them
// apart.
const MaxCapacity = 1<<31 - 1

// New returns an index for a ring of at most capacity entries, at most
// MaxCapacity.
func New(capacity int) *Index {
	n := max((uint64(capacity)+3)/4, 1)
	n = 1 << bits.Len64(n-1) // a power of two, at least capacity/4
	return &Index{buckets: make([]bucket, n), mask: n - 1}
}

// place is what a bucket holds for an entry: a fingerprint of its hash,
// whose lowest bit is set so that no place in use is zero, and the low 32
// bits of its number.
func place(hash, seq uint64) uint64 {
	return (hash>>32|1)<<32 | seq&0xffffffff
}

// Find returns the number of the live entry whose key hashed to hash and
// for which match, given the entry's number, reports true; false when
// there is none. The ring's live entries are numbered head to head+live-1.
func (x *Index) Find(hash, head, live uint64, match func(seq uint64) bool) (uint64, bool) {
	b := &x.buckets[hash&x.mask]
	fingerprint := hash>>32 | 1
	for _, p := range b {
		if p>>32 != fingerprint {
			continue
		}
		if seq, ok := number(p, head, live); ok && match(seq) {
			return seq, true
		}
	}
	return 0, false
}

// Prefetch reads the buckets of the hashes given, so that the lookups and
// additions of their keys that follow find them in the cache. A lookup
// waits out its bucket's cache miss alone; these reads do not depend on
// one another, so the processor has several misses under way at once.
// Callers that know a batch of keys ahead pay about one miss for all.
func (x *Index) Prefetch(hashes []uint64) {
	readBuckets(x, hashes)
}

// readBuckets reads both cache lines of each hash's bucket. Its sum means
// nothing; returned from a call that is not inlined, it keeps the reads
// from being optimised away.
//
//go:noinline
func readBuckets(x *Index, hashes []uint64) uint64 {
	var sum uint64
	for _, h := range hashes {
		b := &x.buckets[h&x.mask]
		sum += b[0] + b[ways/2]
	}
	return sum
}

// Add records that the entry numbered seq, now live, has a key that hashed
// to hash. It takes a place no live entry holds, or else the place of the
// bucket's oldest entry, which the index forgets: then it reports true.
func (x *Index) Add(hash, seq, head, live uint64) (forgot bool) {
	b := &x.buckets[hash&x.mask]
	oldest, at := uint64(0), -1
	for i, p := range b {
		n, ok := number(p, head, live)
		if !ok { // free, or its entry dropped
			b[i] = place(hash, seq)
			return false
		}
		if at < 0 || n < oldest {
			oldest, at = n, i
		}
	}
	b[at] = place(hash, seq)
	return true
}

// Remove forgets the entry numbered seq, whose key hashed to hash: an
// entry the ring keeps but that should no longer be found.
func (x *Index) Remove(hash, seq uint64) {
	b := &x.buckets[hash&x.mask]
	want := place(hash, seq)
	for i, p := range b {
		if p == want {
			b[i] = 0
			return
		}
	}
}

// number returns the full number of the entry a place in use holds, and
// whether it is live; the place keeps its low 32 bits, which the offset
// from head (less than live, itself below 2^31) makes whole again.
func number(p, head, live uint64) (uint64, bool) {
	offset := uint64(uint32(p) - uint32(head))
	return head + offset, p != 0 && offset < live
}
