//go:build !linux

package comm

import (
	"errors"
	"net"
)

// ringsSupported: this system does not share rings (no memfd); every
// frame goes by the socket.
const ringsSupported = false

var errNoRings = errors.New("shared-memory rings need Linux")

func createRing(size int) (int, []byte, error) { return -1, nil, errNoRings }

func mapPeerRing(fd int) ([]byte, error) { return nil, errNoRings }

func unmapRing(mem []byte) {}

func closeFD(fd int) {}

func writeWithFD(conn *net.UnixConn, msg []byte, fd int) error {
	_, err := conn.Write(msg)
	return err
}

func receivedFDs(oob []byte) []int { return nil }
