package collectives

import (
	"strings"
	"unsafe"
)

// newResult returns a new slice of n bytes for a collective's result that
// the caller overwrites whole before anyone reads it: its contents are
// whatever the memory held, and its pages are made present at once.
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
//
// In a loop (collapse: see arena.inLoop), the runs of its pages that are
// huge pages' worth, all present, are also collapsed into huge pages
// where they are not already (prefault).
func newResult(n int, collapse bool) []byte {
	if n <= 0 {
		return []byte{}
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte(0) // a string of one byte: its data is the allocation's start
	mem := unsafe.Slice(unsafe.StringData(b.String()), n)
	if n >= prefaultBytes {
		prefault(mem, collapse)
	}
	return mem
}

// prefaultBytes: results from this size on have their missing pages
// populated (prefault) before they are written.
const prefaultBytes = 256 << 10

// hugeBytes is the size of a transparent huge page (x86-64, arm64 with 4
// KiB pages).
const hugeBytes = 2 << 20

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

// newResultOf is newResult for n elements of the fixed-size number E.
func newResultOf[E any](n int, collapse bool) []E {
	if n <= 0 {
		return []E{}
	}
	return viewOf[E](newResult(n*elemSize[E](), collapse), 0, n)
}

// inLoop counts a new result of n bytes and reports whether the calls
// through a look like a program's loop: loopResults results of a huge
// page or more made already. From then on, newResult collapses their
// memory into huge pages (see prefault), a cost paid once per run of
// memory that the heap keeps reusing, which a call or two would not
// recover. The memory of bench/ops's 8 MiB rows had been populated in
// small pages by its 1 MiB rows: AllreduceSlice 8 MiB at np=2 then took
// 2.34 ms (mean, the quiet one of three runs) with huge pages only for
// fresh memory, 2.09 with collapsing (two quiet runs), main 2.51.
func (a *arena) inLoop(n int) bool {
	if n < hugeBytes {
		return false
	}
	a.hugeResults++
	return a.hugeResults > loopResults
}

// loopResults: new results of a huge page or more before inLoop.
const loopResults = 4
