package memory

import (
	"encoding/binary"
	"slices"
)

// packedQueue is a FIFO of messages kept as records written end to end
// into large byte slabs, not as a message object each: a channel's waiting
// messages are most of what a backlogged bus holds, and as objects the
// garbage collector would allocate, track and scan them one by one while
// they wait, and grow the heap to twice what they hold. A slab holds no
// pointers, and the large ones live off Go's heap (newSlab). A slab is
// freed as soon as the queue's head has passed it, or rewound when it was
// the last, so a queue holds what waits in it and at most two partly used
// slabs.
//
// A record is its message's id, accounted size, metadata length and packed
// length (a uint64 each, little-endian), then the packed fields and body.
// A message taken from the queue is copied out of its slab: nothing outside
// the queue ever refers to a slab's bytes, so freeing one is safe.
type packedQueue struct {
	slabs []slab // oldest first: records are read from the first, written to the last
	ends  []int  // where the records of each slab but the last end
	head  int    // where the first slab's next record starts
	tail  int    // where the last slab's next record goes
	n     int    // records
	bytes int    // their accounted sizes
}

// slab is a block of records (see newSlab).
type slab struct {
	buf    []byte
	mapped bool // off Go's heap: freed by free
}

const recordHead = 32

// A new slab is the power of two from minSlab to maxSlab that holds what
// the queue holds, so that a short queue takes little more memory than its
// messages and a long one few slabs; a record over a quarter of maxSlab
// has a slab of its own. An emptied queue keeps a slab no larger than
// keptSlab, so that a channel whose receivers keep up writes its messages
// over the same bytes, and an idle one holds little.
const (
	minSlab    = 1 << minSlabShift // 16 KiB
	maxSlab    = 1 << maxSlabShift // 2 MiB
	mappedSlab = maxSlab           // one huge page
	keptSlab   = minSlab

	minSlabShift = 14
	maxSlabShift = 21
)

func (q *packedQueue) len() int { return q.n }

// push appends a message of fields then body.
func (q *packedQueue) push(id uint64, size int, fields, body []byte) {
	packed := len(fields) + len(body)
	rec := q.room(recordHead + packed)
	binary.LittleEndian.PutUint64(rec[0:], id)
	binary.LittleEndian.PutUint64(rec[8:], uint64(size))
	binary.LittleEndian.PutUint64(rec[16:], uint64(len(fields)))
	binary.LittleEndian.PutUint64(rec[24:], uint64(packed))
	copy(rec[recordHead+copy(rec[recordHead:], fields):], body)
	q.n++
	q.bytes += size
}

// room returns the next n bytes of the last slab, adding a slab when they
// do not fit.
func (q *packedQueue) room(n int) []byte {
	if len(q.slabs) == 0 || q.tail+n > len(q.slabs[len(q.slabs)-1].buf) {
		if q.n == 0 {
			q.reset() // the kept slab, rewound: nothing in it to read
		} else {
			q.ends = append(q.ends, q.tail)
		}
		size := minSlab
		for held := q.bytes + q.n*recordHead; size < maxSlab && size < held; {
			size *= 2
		}
		if n > maxSlab/4 {
			size = n // a slab of its own: a slab's unused end is less than a quarter of it
		}
		q.slabs = append(q.slabs, newSlab(max(size, n)))
		q.tail = 0
	}
	rec := q.slabs[len(q.slabs)-1].buf[q.tail : q.tail+n]
	q.tail += n
	return rec
}

// firstID is the id of the message at the head; the queue must not be
// empty.
func (q *packedQueue) firstID() uint64 {
	return binary.LittleEndian.Uint64(q.slabs[0].buf[q.head:])
}

// pop removes up to n messages from the head and appends them to out, each
// a message of its own.
func (q *packedQueue) pop(out []*message, n int) []*message {
	for ; n > 0 && q.n > 0; n-- {
		rec := q.slabs[0].buf[q.head:]
		m := &message{
			id:     binary.LittleEndian.Uint64(rec[0:]),
			packed: slices.Clone(rec[recordHead : recordHead+binary.LittleEndian.Uint64(rec[24:])]),
			bodyAt: int(binary.LittleEndian.Uint64(rec[16:])),
		}
		m.size = q.drop() // after the copy: it may free the slab
		out = append(out, m)
	}
	return out
}

// drop removes the message at the head, and returns its accounted size;
// the queue must not be empty.
func (q *packedQueue) drop() (size int) {
	rec := q.slabs[0].buf[q.head:]
	size = int(binary.LittleEndian.Uint64(rec[8:]))
	q.head += recordHead + int(binary.LittleEndian.Uint64(rec[24:]))
	q.n--
	q.bytes -= size
	q.passed()
	return size
}

// passed frees the first slab once the head has read all of it, and
// rewinds the last one once it has none left to read.
func (q *packedQueue) passed() {
	if len(q.slabs) > 1 {
		if q.head < q.ends[0] {
			return
		}
		q.slabs[0].free()
		q.slabs[0] = slab{}
		q.slabs, q.ends, q.head = q.slabs[1:], q.ends[1:], 0
		return
	}
	if q.head < q.tail {
		return
	}
	q.head, q.tail = 0, 0
	if len(q.slabs[0].buf) > keptSlab {
		q.slabs[0].free()
		q.slabs[0] = slab{}
		q.slabs = q.slabs[:0]
	}
}

// reset drops every message and frees every slab.
func (q *packedQueue) reset() {
	for _, s := range q.slabs {
		s.free()
	}
	*q = packedQueue{}
}
