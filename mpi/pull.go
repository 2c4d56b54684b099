package mpi

import (
	"unsafe"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/freshmem"
)

// Single-copy rendezvous for ranks on one host. A sender whose transport
// can read the receiver's memory (comm.PeerMemoryReader, both ways)
// announces a large body with a kindRTSLocal carrying the body's address;
// the receiver, once matched, copies the body straight out of the sender's
// memory into its target (process_vm_readv, as Open MPI's CMA does) and
// answers with a clear-to-send marked ctsPulled, which completes the send.
// The body crosses memory once instead of twice through a socket. When the
// copy is not possible (no permission), the receiver answers a plain
// clear-to-send and the body travels as usual.

// minPull is the smallest body worth a cross-process copy rather than a
// socket write.
const minPull = 64 << 10

// canBePulled reports whether body may be offered to dest for a direct copy.
func (e *engine) canBePulled(dest int, body []byte) bool {
	return len(body) >= minPull && e.reader != nil && e.reader.CanReadPeerMemory(dest)
}

// bodyAddress is the address of body's memory, for a kindRTSLocal.
func bodyAddress(body []byte) uint64 {
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(body))))
}

// pullBody copies a matched kindRTSLocal body out of the sender's memory,
// finishes r and tells the sender. It reports false, having changed
// nothing, when the copy cannot be made; the caller then answers a plain
// clear-to-send.
func (e *engine) pullBody(r *recvOp, msg *message) bool {
	src := msg.env.source
	if e.reader == nil || !e.reader.CanReadPeerMemory(src) {
		return false
	}
	// Busy until the clear-to-send is counted: a copy made by a receive's
	// caller shows in no frame counter while it lasts.
	e.busy.Add(1)
	defer e.busy.Add(-1)
	e.slowCopy()
	buf := e.pullTarget(msg)
	if msg.remote.sharing && e.startShare(r, msg, buf) {
		return true
	}
	if err := e.reader.ReadPeerMemory(src, msg.remote.addr, buf); err != nil {
		return false
	}
	e.pulled(r, msg, buf)
	return true
}

// pulled finishes r, whose body is in buf, and tells the sender with a
// clear-to-send marked ctsPulled, unless r failed meanwhile (its sender
// died). The clear-to-send is counted as sent before pulled returns.
//
// When the transport cannot send it at once (the first frame to src: its
// connection is still to be made), r finishes only once it is out. Finished
// first, r's caller would go on (typically to compute) while the goroutine
// carrying the clear-to-send waits for a turn, which a rank with one P gets
// at the next preemption, 10 ms or more later; meanwhile the sender sits
// blocked in Send with its body long copied (the haversine workload at
// np=4 on 2 cores lost 30 ms per 64 MB share so).
func (e *engine) pulled(r *recvOp, msg *message, buf []byte) {
	src := msg.env.source
	key := rndvKey{src, msg.id}
	e.mu.Lock()
	_, ours := e.recvs[key]
	delete(e.recvs, key)
	e.mu.Unlock()
	if !ours {
		return // the sender died meanwhile and r already failed
	}
	e.pulls.Add(1)
	r.msg.body = buf
	e.finishOnceSent(r, src, comm.Header{Kind: kindCTS, Seq: msg.id, Tag: ctsPulled})
}

// pullTarget is the memory a pulled body goes to: the receive target's own
// slice when it can take the body (as BufferFor decides), else a new one
// whose pages are made present before the copy (freshmem.Bytes), since the
// copy overwrites it whole. Faulted in by the copy instead, a 64 MB body
// cost the haversine workload's receivers 245-299 ms each on a
// paravirtualized VM whose page faults take 14 us (28-186 ms so; the whole
// job, np=4, 1.35-1.45 -> 0.62-0.87 s, four alternated runs each).
func (e *engine) pullTarget(msg *message) []byte {
	if b := e.bodyTarget(msg.env.source, msg.id, msg.size); b != nil {
		return b
	}
	return freshmem.Bytes(msg.size)
}
