//go:build !linux

package comm

import (
	"errors"
	"syscall"
)

// canReadProcesses: bodies always travel through the socket here.
const canReadProcesses = false

// peerPID is unknown here: peers' memory is never read directly.
func peerPID(syscall.RawConn) int { return 0 }

func readProcess(int, uint64, []byte) error {
	return errors.New("reading another process's memory is not supported on this system")
}

func writeProcess(int, uint64, []byte) error {
	return errors.New("writing another process's memory is not supported on this system")
}
