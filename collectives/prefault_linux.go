package collectives

import (
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
// changes no byte and no mapping; where the kernel cannot, the pages
// fault as usual.
func prefault(mem []byte) {
	addr, n := pagesWithin(mem)
	var present [prefaultChunk]byte
	for n > 0 {
		size := min(n, prefaultChunk*pageBytes)
		_, _, errno := unix.Syscall(unix.SYS_MINCORE, addr, uintptr(size), uintptr(unsafe.Pointer(&present[0])))
		if errno != 0 || absent(present[:size/pageBytes]) {
			unix.Syscall(unix.SYS_MADVISE, addr, uintptr(size), unix.MADV_POPULATE_WRITE)
		}
		addr += uintptr(size)
		n -= size
	}
}

// prefaultChunk is the pages prefault asks about, and populates, at once
// (2 MiB of 4 KiB pages).
const prefaultChunk = 512

// absent reports whether mincore's vector says a page is not present.
func absent(present []byte) bool {
	for _, p := range present {
		if p&1 == 0 {
			return true
		}
	}
	return false
}
