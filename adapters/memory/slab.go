package memory

import (
	"math/bits"
	"sync"
)

// heapSlabs hold freed slabs of Go's heap for reuse, a pool per power of
// two from minSlab to below mappedSlab: a queue that fills and drains over
// and over, as a route delivering in batches does, takes its slabs back
// rather than allocating and clearing new ones each time. The garbage
// collector empties the pools of what stays unused. A slab of another size
// (a record's own) is left to the collector.
var heapSlabs [maxSlabShift - minSlabShift]sync.Pool

// heapSlabClass is the pool of slabs of n bytes, if they have one.
func heapSlabClass(n int) (*sync.Pool, bool) {
	if n < minSlab || n >= mappedSlab || n&(n-1) != 0 {
		return nil, false
	}
	return &heapSlabs[bits.TrailingZeros(uint(n))-minSlabShift], true
}

// newHeapSlab returns a slab of n bytes of Go's heap, a freed one when its
// pool has one. Its bytes are not cleared: a queue reads only the records
// it wrote.
func newHeapSlab(n int) slab {
	if pool, ok := heapSlabClass(n); ok {
		if buf, ok := pool.Get().(*[]byte); ok {
			return slab{buf: *buf}
		}
	}
	return slab{buf: make([]byte, n)}
}

// freeHeapSlab gives a slab of Go's heap back to its pool. Nothing may use
// its bytes afterwards.
func freeHeapSlab(buf []byte) {
	if pool, ok := heapSlabClass(len(buf)); ok {
		pool.Put(&buf)
	}
}
