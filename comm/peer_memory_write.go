package comm

import "fmt"

// PeerMemoryWriter is an optional ability of transports whose peers may run
// on this host: copying into a peer process's memory (Linux's
// process_vm_writev), the mirror of PeerMemoryReader. A sender that waits
// for a large body to be pulled out of its memory can write a share of it
// into the receiver's memory meanwhile, so that two cores copy at once.
// CanWritePeerMemory reports whether WritePeerMemory may work for rank; it
// holds exactly when CanReadPeerMemory does. WritePeerMemory copies src to
// address addr of rank's process, or fails (the peer has not connected
// yet, the system refuses, the peer is gone); after a failure the bytes at
// addr are unspecified.
type PeerMemoryWriter interface {
	CanWritePeerMemory(rank int) bool
	WritePeerMemory(rank int, addr uint64, src []byte) error
}

// CanWritePeerMemory reports whether WritePeerMemory may work for rank: as
// CanReadPeerMemory (PeerMemoryWriter).
func (u *Unix) CanWritePeerMemory(rank int) bool { return u.CanReadPeerMemory(rank) }

// WritePeerMemory copies src to addr in rank's process, the process being
// the one the kernel reported for the connection rank dialed to us
// (PeerMemoryWriter). It fails when rank has not connected.
func (u *Unix) WritePeerMemory(rank int, addr uint64, src []byte) error {
	pid := u.peerProcess(rank)
	if pid <= 0 {
		return fmt.Errorf("comm: unix rank %d: the process of rank %d is unknown (it has not connected to us)", u.cfg.Rank, rank)
	}
	if err := writeProcess(pid, addr, src); err != nil {
		return fmt.Errorf("comm: unix rank %d: writing rank %d's memory: %w", u.cfg.Rank, rank, err)
	}
	return nil
}

// peerProcess is the process id of rank's connection to us, or 0.
func (u *Unix) peerProcess(rank int) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.isPeer(rank) && u.in[rank] != nil {
		return u.in[rank].pid
	}
	return 0
}

// CanWritePeerMemory reports whether rank's transport can write its memory
// (PeerMemoryWriter).
func (c *Composite) CanWritePeerMemory(rank int) bool {
	r, ok := c.reader(rank)
	w, can := r.(PeerMemoryWriter)
	return ok && can && w.CanWritePeerMemory(rank)
}

// WritePeerMemory writes rank's memory through rank's transport.
func (c *Composite) WritePeerMemory(rank int, addr uint64, src []byte) error {
	r, _ := c.reader(rank)
	w, ok := r.(PeerMemoryWriter)
	if !ok {
		return fmt.Errorf("comm: composite rank %d: rank %d's transport cannot write its memory", c.rank, rank)
	}
	return w.WritePeerMemory(rank, addr, src)
}
