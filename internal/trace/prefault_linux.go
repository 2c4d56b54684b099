package trace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// populate makes the pages of n bytes at p present and writable at once
// (MADV_POPULATE_WRITE, Linux 5.14 and later): one system call instead of
// a page fault per page, which a rank would otherwise take inside its
// calls. It reports false where the kernel cannot.
func populate(p unsafe.Pointer, n int) bool {
	return unix.Madvise(unsafe.Slice((*byte)(p), n), unix.MADV_POPULATE_WRITE) == nil
}
