// Package freshmem allocates large buffers that are about to be
// overwritten whole, with their pages made present in one system call
// (and in transparent huge pages where the kernel has them) instead of
// one page fault per 4 KiB as they are first written. In a virtual
// machine a page fault can cost far more than the copy into the page: on
// a paravirtualized 2-core AMD EPYC guest, 14-19 us a fresh 4 KiB page
// (written by the program or by the kernel, as in read or
// process_vm_readv), against 0.9-1.1 us populated by MADV_POPULATE_WRITE
// and 0.2-0.6 us in huge pages (256 MiB of fresh anonymous memory written
// a byte a page, read from /dev/zero, or populated, timed in C, 2026-12-02;
// bench/compare's host probe times the first of these).
package freshmem

import (
	"strings"
	"unsafe"
)

// Bytes returns a new slice of n bytes that the caller overwrites whole
// before anyone reads it (a collective's result, a received body): its
// contents are whatever the memory held, and its pages are made present
// at once.
//
// A result of several MiB is where the allocating forms (AllreduceSlice,
// Bcast) lose to the Into forms, and the loss is the memory, not the
// collector: a heap that grows (a program's first calls, or after the
// runtime returned pages to the kernel) hands out pages the kernel has not
// mapped yet, and copying 8 MiB into them took 4-7 ms here, one page fault
// per 4 KiB, against 0.75 ms into memory already mapped, and 2.5-3.5 ms
// with the pages populated by a system call first (prefault). make
// would also clear memory that Go reuses, a pass as long as the copy;
// strings.Builder.Grow is the standard library's allocation without it.
// The Builder is dropped at once, so no string ever sees the bytes change.
func Bytes(n int) []byte {
	if n <= 0 {
		return []byte{}
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte(0) // a string of one byte: its data is the allocation's start
	mem := unsafe.Slice(unsafe.StringData(b.String()), n)
	if n >= prefaultBytes {
		prefault(mem)
	}
	return mem
}

// prefaultBytes: slices from this size on have their missing pages
// populated (prefault) before they are written.
const prefaultBytes = 256 << 10

// pageBytes is the page size prefault assumes (a smaller real page only
// leaves some pages to fault as usual).
const pageBytes = 4096

// pagesWithin is the range of whole pages inside mem: its start address
// and length (0 when mem holds no whole page). The pages at mem's ends,
// which it shares with other objects, are left alone.
func pagesWithin(mem []byte) (addr uintptr, n int) {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	lo := (start + pageBytes - 1) &^ (pageBytes - 1)
	hi := (start + uintptr(len(mem))) &^ (pageBytes - 1)
	if hi <= lo {
		return 0, 0
	}
	return lo, int(hi - lo)
}
