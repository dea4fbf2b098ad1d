package memory

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPackedQueueHandsBackWhatItWasGivenInOrder pushes messages of every
// size, from empty to larger than a slab, through enough slabs that the
// queue maps some off the heap and frees them, taking some out as it goes,
// and checks each message comes out whole and in order, and that the
// emptied queue keeps only a small slab.
func TestPackedQueueHandsBackWhatItWasGivenInOrder(t *testing.T) {
	var q packedQueue
	sizes := []int{0, 1, 100, 1000, 20 << 10, 100 << 10}
	body := func(id uint64, n int) []byte {
		return bytes.Repeat([]byte{byte(id)}, n)
	}
	var next, want uint64 // the next id pushed, and popped
	check := func(m *message) {
		t.Helper()
		want++
		n := sizes[want%uint64(len(sizes))]
		if want == 3000 {
			n = 3 * maxSlab
		}
		fields := fmt.Appendf(nil, "fields of %d", want)
		if m.id != want || m.size != len(fields)+n || m.bodyAt != len(fields) ||
			!bytes.Equal(m.packed[:m.bodyAt], fields) || !bytes.Equal(m.body(), body(want, n)) {
			t.Fatalf("popped message %d (size %d, metadata %q, %d body bytes), want message %d of %d body bytes",
				m.id, m.size, m.packed[:m.bodyAt], len(m.body()), want, n)
		}
	}
	for range 6000 {
		next++
		n := sizes[next%uint64(len(sizes))]
		if next == 3000 {
			n = 3 * maxSlab // a slab of its own
		}
		fields := fmt.Appendf(nil, "fields of %d", next)
		q.push(next, len(fields)+n, fields, body(next, n))
		if next%7 == 0 { // receivers take some, a backlog grows
			for _, m := range q.pop(nil, 3) {
				check(m)
			}
		}
	}
	if len(q.slabs) < 10 {
		t.Fatalf("the backlog filled %d slabs; the test means to cross many", len(q.slabs))
	}
	for q.len() > 0 {
		for _, m := range q.pop(nil, 50) {
			check(m)
		}
	}
	if want != next || q.bytes != 0 {
		t.Fatalf("popped %d of %d messages; %d bytes left", want, next, q.bytes)
	}
	if len(q.slabs) > 1 || len(q.slabs) == 1 && len(q.slabs[0].buf) > keptSlab {
		t.Fatalf("the emptied queue keeps %d slabs, the first of %d bytes", len(q.slabs), len(q.slabs[0].buf))
	}
}

// TestPackedQueueDropsFromTheHeadAndResets checks the head's id and drop,
// which drop-oldest uses, and that reset empties the queue.
func TestPackedQueueDropsFromTheHeadAndResets(t *testing.T) {
	var q packedQueue
	for id := uint64(1); id <= 3; id++ {
		q.push(id, 10*int(id), []byte("f"), []byte("body"))
	}
	if got := q.firstID(); got != 1 {
		t.Fatalf("firstID = %d, want 1", got)
	}
	if size := q.drop(); size != 10 || q.len() != 2 || q.bytes != 50 {
		t.Fatalf("drop = %d with %d messages of %d bytes left, want 10 with 2 of 50", size, q.len(), q.bytes)
	}
	if m := q.pop(nil, 1)[0]; m.id != 2 || string(m.body()) != "body" {
		t.Fatalf("after the drop popped message %d with body %q, want message 2", m.id, m.body())
	}
	q.reset()
	if q.len() != 0 || q.bytes != 0 || len(q.slabs) != 0 {
		t.Fatalf("reset left %d messages of %d bytes in %d slabs", q.len(), q.bytes, len(q.slabs))
	}
	q.push(9, 1, nil, []byte("x"))
	if m := q.pop(nil, 5); len(m) != 1 || m[0].id != 9 {
		t.Fatalf("after reset popped %d messages, want message 9 alone", len(m))
	}
}

// TestAShortQueueHoldsLittle keeps a few messages waiting while a hundred
// thousand pass through, as a channel whose receivers keep up does, and
// checks its slabs stay small: a slab is sized by what the queue holds.
func TestAShortQueueHoldsLittle(t *testing.T) {
	var q packedQueue
	body := bytes.Repeat([]byte("x"), 200)
	for id := uint64(1); id <= 100_000; id++ {
		q.push(id, len(body), nil, body)
		if q.len() > 10 {
			q.pop(nil, 1)
		}
		held := 0
		for _, s := range q.slabs {
			held += len(s.buf)
		}
		if held > 4*minSlab {
			t.Fatalf("after %d messages, with %d waiting, the queue holds %d bytes of slabs", id, q.len(), held)
		}
	}
}

// TestPackedQueueAgreesWithASlice runs random pushes, pops and drops of
// random sizes, emptying the queue now and then, against a plain slice of
// the same messages: the queue must hand out exactly what the slice does.
func TestPackedQueueAgreesWithASlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type want struct {
		id   uint64
		body []byte
	}
	// Three queues at once, each against a slice of its own: they take
	// freed slabs from one another, and a slab handed out twice would show
	// in another queue's messages.
	var queues [3]struct {
		q     packedQueue
		model []want
	}
	var next uint64
	for step := range 30_000 {
		qi := rng.IntN(len(queues))
		q, model := &queues[qi].q, queues[qi].model
		switch r := rng.IntN(10); {
		case r < 5: // push: mostly small, now and then over a slab's quarter
			next++
			n := rng.IntN(300)
			if rng.IntN(50) == 0 {
				n = rng.IntN(3 * maxSlab / 2)
			}
			body := bytes.Repeat([]byte{byte(next)}, n)
			q.push(next, n, nil, body)
			model = append(model, want{next, body})
		case r < 9: // pop a few, or all
			k := rng.IntN(4)
			if rng.IntN(20) == 0 {
				k = len(model)
			}
			for _, m := range q.pop(nil, k) {
				if m.id != model[0].id || !bytes.Equal(m.body(), model[0].body) {
					t.Fatalf("step %d: queue %d popped message %d of %d bytes, want message %d of %d bytes", step, qi, m.id, len(m.body()), model[0].id, len(model[0].body))
				}
				model = model[1:]
			}
		default: // drop the oldest
			if len(model) > 0 {
				if id := q.firstID(); id != model[0].id {
					t.Fatalf("step %d: queue %d firstID = %d, want %d", step, qi, id, model[0].id)
				}
				q.drop()
				model = model[1:]
			}
		}
		if q.len() != len(model) {
			t.Fatalf("step %d: queue %d holds %d messages, want %d", step, qi, q.len(), len(model))
		}
		queues[qi].model = model
	}
	for i := range queues {
		queues[i].q.reset()
	}
}
