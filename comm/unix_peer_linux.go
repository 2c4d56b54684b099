package comm

import "syscall"

// peerPID returns the process id at the other end of a Unix socket.
func peerPID(raw syscall.RawConn) int {
	pid := 0
	raw.Control(func(fd uintptr) {
		if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
	})
	return pid
}
