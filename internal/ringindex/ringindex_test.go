package ringindex

import (
	"math/rand/v2"
	"testing"
)

// ring is what the tests index: the key of entry seq is keys[seq], the
// live entries are numbered from head on.
type ring struct {
	x          *Index
	keys       map[uint64]uint64
	head, size uint64
	capacity   uint64
	forgot     int // additions that took a live entry's place
}

func newRing(capacity int) *ring {
	return &ring{x: New(capacity), keys: map[uint64]uint64{}, capacity: uint64(capacity)}
}

// add appends an entry of key, dropping the oldest when the ring is full.
func (r *ring) add(key uint64) uint64 {
	if r.size == r.capacity {
		r.head++
		r.size--
	}
	seq := r.head + r.size
	r.keys[seq] = key
	r.size++
	if r.x.Add(key, seq, r.head, r.size) {
		r.forgot++
	}
	return seq
}

func (r *ring) find(key uint64) (uint64, bool) {
	return r.x.Find(key, r.head, r.size, func(seq uint64) bool { return r.keys[seq] == key })
}

func TestEveryLiveEntryIsFoundAndNoDroppedOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := newRing(4096)
	for range 10 * 4096 { // round the ring ten times: places are reused
		r.add(rng.Uint64())
	}
	if r.forgot != 0 {
		t.Fatalf("%d additions forgot a live entry; this seed's keys fill no bucket", r.forgot)
	}
	for seq := r.head; seq < r.head+r.size; seq++ {
		if got, ok := r.find(r.keys[seq]); !ok || got != seq {
			t.Fatalf("live entry %d found as %d, %v", seq, got, ok)
		}
	}
	for seq := range r.head {
		if got, ok := r.find(r.keys[seq]); ok {
			t.Fatalf("entry %d, dropped, found as %d", seq, got)
		}
	}
}

func TestRemovedEntryIsNotFoundAndTheOthersAre(t *testing.T) {
	r := newRing(64)
	a, b := r.add(7<<32|5), r.add(9<<32|5) // one bucket
	r.x.Remove(7<<32|5, a)
	if _, ok := r.find(7<<32 | 5); ok {
		t.Error("a removed entry is found")
	}
	if got, ok := r.find(9<<32 | 5); !ok || got != b {
		t.Errorf("the entry beside a removed one found as %d, %v; want %d", got, ok, b)
	}
}

// The places keep 32 bits of an entry's number: numbers past 2^32 come
// out whole, on both sides of the wrap.
func TestNumbersPastTwoToThe32(t *testing.T) {
	r := newRing(1024)
	r.head = 1<<32 - 100
	for i := range uint64(300) {
		r.add(i*0x9e3779b97f4a7c15 + 1)
	}
	for seq := r.head; seq < r.head+r.size; seq++ {
		if got, ok := r.find(r.keys[seq]); !ok || got != seq {
			t.Fatalf("entry %d found as %d, %v", seq, got, ok)
		}
	}
}

// A bucket whose 16 places hold live entries gives its oldest's place to
// the next: that one is forgotten, the 16 newest are found.
func TestAFullBucketForgetsItsOldest(t *testing.T) {
	r := newRing(1 << 16)
	key := func(i uint64) uint64 { return (2*i+2)<<32 | 3 } // one bucket, fingerprints apart
	for i := range uint64(ways) {
		r.add(key(i))
	}
	if forgot := r.x.Add(key(ways), ways, r.head, r.size+1); !forgot {
		t.Error("Add into a full bucket did not say it forgot an entry")
	}
	r.keys[ways] = key(ways)
	r.size++
	if _, ok := r.find(key(0)); ok {
		t.Error("the oldest of 17 live entries of one bucket is still found")
	}
	for i := uint64(1); i <= ways; i++ {
		if got, ok := r.find(key(i)); !ok || got != i {
			t.Errorf("entry %d of the full bucket found as %d, %v", i, got, ok)
		}
	}
}

// A key that hashes like another, fingerprint and all, is told apart by
// match.
func TestMatchTellsApartKeysOfOneHash(t *testing.T) {
	r := newRing(64)
	first := r.add(42)
	second := r.add(42)
	got, ok := r.x.Find(42, r.head, r.size, func(seq uint64) bool { return seq == second })
	if !ok || got != second {
		t.Errorf("found %d, %v; want the entry match picks, %d (not %d)", got, ok, second, first)
	}
}

// BenchmarkChurn adds an entry to a full ring of 100,000 and looks it up,
// as ingress does for every new event: the index's whole cost, since the
// oldest entry's drop costs nothing.
func BenchmarkChurn(b *testing.B) {
	const capacity = 100_000
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, 1<<20)
	for i := range keys {
		keys[i] = rng.Uint64()
	}
	x := New(capacity)
	var head, size uint64
	for i := uint64(0); b.Loop(); i++ {
		k := keys[i%uint64(len(keys))]
		x.Find(k, head, size, func(uint64) bool { return true })
		if size == capacity {
			head++
			size--
		}
		size++
		x.Add(k, head+size-1, head, size)
	}
}
