package freshmem

import (
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// prefault makes the whole pages inside mem present and writable, a
// system call for each run of up to prefaultChunk pages of which some are
// not (MADV_POPULATE_WRITE, Linux 5.14 and later), instead of a page
// fault per page as they are first written. It asks the kernel which
// pages are present first (mincore: 8 MiB in 1.7 us here), since
// populating pages already present still walks each (64 us for 8 MiB),
// and a heap that has stopped growing mostly reuses present pages. It
// changes no byte; where the kernel cannot, the pages fault as usual.
//
// Runs are aligned on huge pages (hugeBytes), and a run that is one huge
// page and none of whose pages is present is first marked for
// transparent huge pages (MADV_HUGEPAGE, see hugeRuns), so that the
// kernel populates it with one huge page where it can.
func prefault(mem []byte) {
	addr, n := pagesWithin(mem)
	huge := hugeRuns()
	var present [prefaultChunk]byte
	for n > 0 {
		size := min(n, hugeBytes-int(addr%hugeBytes))
		_, _, errno := unix.Syscall(unix.SYS_MINCORE, addr, uintptr(size), uintptr(unsafe.Pointer(&present[0])))
		if errno != 0 || absent(present[:size/pageBytes]) {
			if huge && errno == 0 && size == hugeBytes && none(present[:size/pageBytes]) {
				unix.Syscall(unix.SYS_MADVISE, addr, uintptr(size), unix.MADV_HUGEPAGE)
			}
			unix.Syscall(unix.SYS_MADVISE, addr, uintptr(size), unix.MADV_POPULATE_WRITE)
		}
		addr += uintptr(size)
		n -= size
	}
}

// prefaultChunk is the most pages prefault asks about, and populates, at
// once: a huge page's worth.
const prefaultChunk = hugeBytes / pageBytes

// hugeBytes is the size of a transparent huge page (x86-64, arm64 with 4
// KiB pages).
const hugeBytes = 2 << 20

// hugeRuns reports whether prefault may mark runs of a result for huge
// pages: not when the program asked Go to keep its heap off them
// (GODEBUG=disablethp=1).
//
// A result of several MiB written into a different heap object each call
// (AllreduceSlice, Bcast) misses the TLB on every 4 KiB page, where the
// Into forms write into the same buffer each call; in a virtual machine
// each miss walks two sets of page tables. Measured here (8 MiB copied
// from shared memory into one of three buffers in turn, with 24 MiB of
// other memory touched between copies, as a rank's call does; p50 of 40
// copies, three rounds): 4 KiB pages 759-986 us, against 690-726 into the
// same buffer every time; huge pages 649-665, against 612-669. Where
// transparent huge pages are "always", Go's heap gets them anyway; where
// they are "madvise" (the default of many distributions), only ranges so
// marked do. In the ranks (8 MiB AllreduceSlice at np=2, per-call p50,
// four alternated jobs at load 7.3): 4.27-5.86 ms with small pages, 3.19-
// 4.51 with huge ones, AllreduceSliceInto 2.29-2.78 either way; at np=4
// (six jobs, load 6-7), with the shares written straight out too, means
// 7.0-9.3 ms against 8.9-10.4 before either.
//
// Tried and dropped: collapsing the memory the heap had populated in small
// pages (for smaller objects, earlier) into huge pages (MADV_COLLAPSE)
// from a rank's fifth result of a huge page or more on, each run once:
// a collapse copies the run (1.2 ms per 2 MiB here), and in bench/ops's
// full table at np=4, where the 8 MiB rows reuse the 1 MiB rows' memory
// and Go's scavenger returns pages meanwhile, AllreduceSlice 8 MiB took
// 6.3-12.4 ms (means of 20 calls, seven runs at load 5-6) against 6.1-
// 6.9 without collapsing (four runs); at np=2 it had gained (2.09 against 2.34 ms,
// quiet runs). Asking the kernel every call, even of runs that are huge
// pages already, cost more (each collapse drains every CPU's page lists).
func hugeRuns() bool {
	return !strings.Contains(os.Getenv("GODEBUG"), "disablethp=1")
}

// absent reports whether mincore's vector says a page is not present.
func absent(present []byte) bool {
	for _, p := range present {
		if p&1 == 0 {
			return true
		}
	}
	return false
}

// none reports whether mincore's vector says no page is present.
func none(present []byte) bool {
	for _, p := range present {
		if p&1 != 0 {
			return false
		}
	}
	return true
}
