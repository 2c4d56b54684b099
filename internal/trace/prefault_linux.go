package trace

import "golang.org/x/sys/unix"

// populate makes the pages of n bytes at addr present and writable at once
// (MADV_POPULATE_WRITE, Linux 5.14 and later): one system call instead of
// a page fault per page, which a rank would otherwise take inside its
// calls. It reports false where the kernel cannot.
// addr is page-aligned and may lie before the Go object the log is in
// (a test's buffer on the heap), so it stays an address: no pointer to it
// is made.
func populate(addr uintptr, n int) bool {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, uintptr(n), unix.MADV_POPULATE_WRITE)
	return errno == 0
}
