//go:build !linux

package memory

// newSlab returns a slab of n bytes, from Go's heap (newHeapSlab).
func newSlab(n int) slab { return newHeapSlab(n) }

// free gives the slab back for reuse. Nothing may use its bytes afterwards.
func (s slab) free() { freeHeapSlab(s.buf) }
