package comm

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// canReadProcesses: this system can copy from a peer's memory.
const canReadProcesses = true

// peerPID returns the process id at the other end of a Unix socket.
func peerPID(raw syscall.RawConn) int {
	pid := 0
	raw.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
	})
	return pid
}

// readProcess copies len(dst) bytes at addr in process pid into dst
// (process_vm_readv), looping over partial copies.
func readProcess(pid int, addr uint64, dst []byte) error {
	for done := 0; done < len(dst); {
		local := []unix.Iovec{{Base: unsafe.SliceData(dst[done:])}}
		local[0].SetLen(len(dst) - done)
		remote := []unix.RemoteIovec{{Base: uintptr(addr) + uintptr(done), Len: len(dst) - done}}
		n, err := unix.ProcessVMReadv(pid, local, remote, 0)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return fmt.Errorf("reading %d bytes from process %d: %w", len(dst)-done, pid, err)
		case n == 0:
			return fmt.Errorf("reading from process %d: no progress", pid)
		}
		done += n
	}
	return nil
}
