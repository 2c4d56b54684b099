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
// In a loop (collapse not nil: see arena.inLoop), the runs of its pages
// that are huge pages' worth, all present, are also collapsed into huge
// pages where they are not already (prefault).
func newResult(n int, collapse *collapsedRuns) []byte {
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
func newResultOf[E any](n int, collapse *collapsedRuns) []E {
	if n <= 0 {
		return []E{}
	}
	return viewOf[E](newResult(n*elemSize[E](), collapse), 0, n)
}

// inLoop counts a new result of n bytes and returns the runs collapsed
// so far when the calls through a look like a program's loop:
// loopResults results of a huge page or more made already; else nil.
// From then on, newResult collapses their memory into huge pages (see
// prefault), a cost paid once per run of memory that the heap keeps
// reusing, which a call or two would not recover. The memory of
// bench/ops's 8 MiB rows had been populated in small pages by its 1 MiB
// rows: AllreduceSlice 8 MiB at np=2 then took 2.34 ms (mean, the quiet
// one of three runs) with huge pages only for fresh memory, 2.09 with
// collapsing (two quiet runs), main 2.51.
func (a *arena) inLoop(n int) *collapsedRuns {
	if n < hugeBytes {
		return nil
	}
	a.hugeResults++
	if a.hugeResults <= loopResults {
		return nil
	}
	return &a.collapsed
}

// loopResults: new results of a huge page or more before inLoop.
const loopResults = 4

// collapsedRuns remembers the runs (their addresses) that prefault
// collapsed into huge pages, so that it does not ask again each call: a
// collapse of a run that is a huge page already still drains every CPU's
// page lists (lru_add_drain_all), work queued on the other cores. The
// heap reuses a few objects in turn; the oldest entry makes way.
type collapsedRuns struct {
	runs [collapsedMax]uintptr
	next int
}

// collapsedMax: runs remembered (64 MiB of results).
const collapsedMax = 32

// has reports whether run was collapsed and not forgotten since.
func (c *collapsedRuns) has(run uintptr) bool {
	for _, r := range c.runs {
		if r == run {
			return true
		}
	}
	return false
}

// add remembers run.
func (c *collapsedRuns) add(run uintptr) {
	c.runs[c.next] = run
	c.next = (c.next + 1) % collapsedMax
}

// forget drops run: some of its pages were found missing (the heap gave
// them back to the kernel), so it is in small pages again.
func (c *collapsedRuns) forget(run uintptr) {
	for i, r := range c.runs {
		if r == run {
			c.runs[i] = 0
		}
	}
}
