package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeUnread returns how many bytes wait in pipe f (FIONREAD, which Linux names TIOCINQ too), 0 when f is
// closed or the count cannot be had. It goes through SyscallConn, not Fd,
// which would put f in blocking mode under its forwarder.
func pipeUnread(f *os.File) int {
	raw, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	if err := raw.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil {
			n = v
		}
	}); err != nil {
		return 0
	}
	return n
}
