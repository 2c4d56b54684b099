//go:build !linux

package comm

import "syscall"

// readNonblocking reads from a non-blocking descriptor (see the Linux
// version for why it exists).
func readNonblocking(fd int, b []byte) (int, error) { return syscall.Read(fd, b) }

// writeNonblocking writes to a non-blocking descriptor (see the Linux
// version for why it exists).
func writeNonblocking(fd int, b []byte) (int, error) { return syscall.Write(fd, b) }
