package mpi

import "fmt"

// CanReadPeerMemory reports whether the collectives may copy straight from
// rank's memory (an optional ability of collectives.Conn, which a large
// AlltoallInto through shared memory uses): the transport can read the
// process of that rank (comm.PeerMemoryReader).
func (k *collConn) CanReadPeerMemory(rank int) bool {
	e := k.c.e
	return e.reader != nil && rank >= 0 && rank < len(k.c.group) && e.reader.CanReadPeerMemory(k.c.group[rank])
}

// ReadPeerMemory copies len(dst) bytes at addr in rank's process into dst.
func (k *collConn) ReadPeerMemory(rank int, addr uint64, dst []byte) error {
	e := k.c.e
	if e.reader == nil || rank < 0 || rank >= len(k.c.group) {
		return fmt.Errorf("mpi: rank %d: cannot read the memory of rank %d", k.c.rank, rank)
	}
	return e.reader.ReadPeerMemory(k.c.group[rank], addr, dst)
}
