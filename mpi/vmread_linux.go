//go:build linux && (amd64 || arm64)

package mpi

import (
	"fmt"
	"syscall"
	"unsafe"
)

// canReadProcesses: this platform can copy from a peer's memory.
const canReadProcesses = true

// iovec is struct iovec; base is an address in whichever process it names.
type iovec struct {
	base uintptr
	len  uint64
}

// readProcess copies len(dst) bytes at addr in process pid into dst
// (process_vm_readv), looping over partial copies.
func readProcess(pid int, addr uint64, dst []byte) error {
	for done := 0; done < len(dst); {
		local := iovec{base: uintptr(unsafe.Pointer(&dst[done])), len: uint64(len(dst) - done)}
		remote := iovec{base: uintptr(addr) + uintptr(done), len: uint64(len(dst) - done)}
		n, _, errno := syscall.Syscall6(sysProcessVMReadv, uintptr(pid),
			uintptr(unsafe.Pointer(&local)), 1, uintptr(unsafe.Pointer(&remote)), 1, 0)
		switch {
		case errno == syscall.EINTR:
			continue
		case errno != 0:
			return fmt.Errorf("reading %d bytes from process %d: %w", len(dst)-done, pid, errno)
		case n == 0:
			return fmt.Errorf("reading from process %d: no progress", pid)
		}
		done += int(n)
	}
	return nil
}
