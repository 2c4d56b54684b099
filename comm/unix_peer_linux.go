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
	return moveProcess(pid, addr, dst, unix.ProcessVMReadv, "reading %d bytes from process %d")
}

// writeProcess copies src to addr in process pid (process_vm_writev),
// looping over partial copies.
func writeProcess(pid int, addr uint64, src []byte) error {
	return moveProcess(pid, addr, src, unix.ProcessVMWritev, "writing %d bytes to process %d")
}

// moveProcess runs move (process_vm_readv or process_vm_writev) between
// local and addr in process pid until every byte moved; what describes
// the copy in errors (byte count and pid).
func moveProcess(pid int, addr uint64, local []byte, move func(int, []unix.Iovec, []unix.RemoteIovec, uint) (int, error), what string) error {
	for done := 0; done < len(local); {
		iov := []unix.Iovec{{Base: unsafe.SliceData(local[done:])}}
		iov[0].SetLen(len(local) - done)
		remote := []unix.RemoteIovec{{Base: uintptr(addr) + uintptr(done), Len: len(local) - done}}
		n, err := move(pid, iov, remote, 0)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return fmt.Errorf(what+": %w", len(local)-done, pid, err)
		case n == 0:
			return fmt.Errorf(what+": no progress", len(local)-done, pid)
		}
		done += n
	}
	return nil
}
