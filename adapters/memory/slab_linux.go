package memory

import "golang.org/x/sys/unix"

// newSlab returns a slab of n bytes. One of mappedSlab bytes or more
// is mapped from the kernel, off Go's heap, and asked for huge pages: a
// backlog's slabs then cost the garbage collector nothing, their memory
// is counted once rather than once more as heap growth, and a 2 MiB slab
// is faulted in once rather than 512 times (where the kernel aligns the
// mapping to a huge page, as Linux does since 6.7). Smaller ones, and any
// the kernel refuses to map, are Go's (newHeapSlab).
func newSlab(n int) slab {
	if n < mappedSlab {
		return newHeapSlab(n)
	}
	buf, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return slab{buf: make([]byte, n)}
	}
	_ = unix.Madvise(buf, unix.MADV_HUGEPAGE) // a hint, which a kernel without them ignores
	return slab{buf: buf, mapped: true}
}

// free gives a mapped slab back to the kernel, and one of Go's heap back
// for reuse. Nothing may use its bytes afterwards.
func (s slab) free() {
	if s.mapped {
		_ = unix.Munmap(s.buf)
		return
	}
	freeHeapSlab(s.buf)
}
