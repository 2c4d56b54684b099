package collectives

import "golang.org/x/sys/unix"

// prefault makes the whole pages inside mem present and writable in one
// system call (MADV_POPULATE_WRITE, Linux 5.14 and later), instead of a
// page fault per page as they are first written. It changes no byte and no
// mapping; where the kernel cannot, the pages fault as usual.
func prefault(mem []byte) {
	addr, n := pagesWithin(mem)
	if n == 0 {
		return
	}
	unix.Syscall(unix.SYS_MADVISE, addr, uintptr(n), unix.MADV_POPULATE_WRITE)
}
