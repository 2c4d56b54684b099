package mpi

import (
	"context"
	"encoding/binary"
	"unsafe"

	"github.com/gorun-mpi/gorun/comm"
)

// Single-copy rendezvous for ranks on one host. A sender whose transport
// knows its peers' processes (comm.PeerProcess) announces a large body with
// a KindRTSLocal carrying the body's address; the receiver, once matched,
// copies the body straight out of the sender's memory into its target
// (process_vm_readv, as Open MPI's CMA does) and answers with a
// clear-to-send marked ctsPulled, which completes the send. The body crosses
// memory once instead of twice through a socket. When the copy is not
// possible (another OS, no permission), the receiver answers a plain
// clear-to-send and the body travels as usual.

// ctsPulled marks, in a clear-to-send's Tag, that the receiver already
// copied the body.
const ctsPulled = 1

// minPull is the smallest body worth a cross-process copy rather than a
// socket write.
const minPull = 64 << 10

// remoteBody locates a body in the sender's memory.
type remoteBody struct {
	addr uint64
	size uint64
}

// canBePulled reports whether body may be offered for a direct copy.
func (e *engine) canBePulled(body []byte) bool {
	if len(body) < minPull || !canReadProcesses || e.noPull {
		return false
	}
	_, ok := e.t.(comm.PeerProcess)
	return ok
}

// localRTS builds a KindRTSLocal payload: the descriptor, then the body's
// address and length.
func localRTS(desc, body []byte) []byte {
	out := make([]byte, 0, len(desc)+16)
	out = append(out, desc...)
	out = binary.LittleEndian.AppendUint64(out, uint64(uintptr(unsafe.Pointer(unsafe.SliceData(body)))))
	return binary.LittleEndian.AppendUint64(out, uint64(len(body)))
}

// splitLocalRTS parses a KindRTSLocal payload announcing size bytes.
func splitLocalRTS(payload []byte, size uint64) ([]byte, remoteBody, bool) {
	if len(payload) < 16 {
		return nil, remoteBody{}, false
	}
	n := len(payload) - 16
	r := remoteBody{
		addr: binary.LittleEndian.Uint64(payload[n:]),
		size: binary.LittleEndian.Uint64(payload[n+8:]),
	}
	if r.addr == 0 || r.size != size {
		return nil, remoteBody{}, false
	}
	return payload[:n:n], r, true
}

// pullBody copies a matched KindRTSLocal body out of the sender's memory,
// finishes r and tells the sender. It reports false, having changed
// nothing, when the copy cannot be made; the caller then answers a plain
// clear-to-send.
func (e *engine) pullBody(r *recvOp, msg *message) bool {
	src := msg.env.source
	pp, ok := e.t.(comm.PeerProcess)
	if !ok {
		return false
	}
	pid := pp.PeerPID(src)
	if pid <= 0 {
		return false
	}
	key := rndvKey{src, msg.id}
	// Busy until the clear-to-send is counted: a copy made by a receive's
	// caller shows in no frame counter while it lasts.
	e.busy.Add(1)
	defer e.busy.Add(-1)
	e.slowCopy()
	buf := e.pullTarget(r, msg)
	if err := readProcess(pid, msg.remote.addr, buf); err != nil {
		return false
	}
	e.mu.Lock()
	_, ours := e.recvs[key]
	delete(e.recvs, key)
	e.mu.Unlock()
	if !ours {
		return true // the sender died meanwhile and r already failed
	}
	cts := comm.Header{Kind: comm.KindCTS, Seq: msg.id, Tag: ctsPulled}
	if !e.trySendFrame(src, cts) {
		e.countSend(src) // before the copy stops being busy: see countSend
		e.async.Add(1)
		go func() {
			defer e.async.Done()
			if e.t.Send(context.Background(), src, cts, nil) != nil {
				e.uncountSend(src)
			}
		}()
	}
	e.pulls.Add(1)
	r.msg.body = buf
	r.finish(nil)
	return true
}

// pullTarget is the memory a pulled body goes to: the receive target's own
// slice when it can take the body (as BufferFor decides), else a new one.
func (e *engine) pullTarget(r *recvOp, msg *message) []byte {
	h := comm.Header{Kind: comm.KindRndvData, Source: int32(msg.env.source), Seq: msg.id, Size: uint64(msg.size)}
	if b := e.BufferFor(h); b != nil {
		return b
	}
	return make([]byte, msg.size)
}
