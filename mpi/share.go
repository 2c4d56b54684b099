package mpi

import (
	"context"
	"sync/atomic"

	"github.com/gorun-mpi/gorun/comm"
)

// Shared copy: a large single-copy rendezvous between ranks that each have
// a core of their own, copied by both sides at once. A sender blocked in
// Send has nothing to do until its body has been pulled, so it announces
// the body with a kindRTSShared. The receiver, once matched, asks it
// (clear-to-send marked ctsShare) to write the body from an offset on
// straight into the receiver's buffer (process_vm_writev) while the
// receiver reads the part before the offset (process_vm_readv): two cores
// copy, each half the body. The sender answers kindWritten when its share
// is in; the receiver, once it holds both parts, answers the clear-to-send
// marked ctsPulled that completes the send, as for a pull. The send
// completes only then, so its buffer is read by no one afterwards; the
// receive completes only with both parts in.
//
// When the sender cannot write its share (kindWritten marked writeFailed)
// the receiver reads that part itself; when the receiver cannot read, it
// answers a plain clear-to-send and the body follows through the socket.
// A peer that dies meanwhile fails the other side's operation through
// PeerGone, as any rendezvous. Ranks that share cores (gorun's yield mode)
// never share a copy: the sender's core is the receiver's too.

// minShare is the smallest body whose copy is shared: below it the extra
// frames and a sender's wake-up cost about what half the copy saves (on a
// 2-core VM, ping-pong p50 of 512 KiB: 47 us shared, 70 us pulled by one
// side; of 1 MiB: 65-95 us against 135-165 us).
const minShare = 512 << 10

// sharedCopy is the state of one shared copy on the receiving side.
type sharedCopy struct {
	buf    []byte // the whole body's target
	offset int    // the sender writes buf[offset:], the receiver reads buf[:offset]
	// left counts the parts not yet in (2: ours and the sender's); the
	// side that brings it to 0 finishes the receive.
	left atomic.Int32
	// failed: a part could not be copied; the body then comes through
	// the socket.
	failed atomic.Bool
	// written: the sender's kindWritten arrived (a second one is
	// ignored).
	written atomic.Bool
}

// canShare reports whether a blocking send of body to dest may offer the
// receiver to write a share of it (kindRTSShared).
func (e *engine) canShare(dest int, body []byte) bool {
	if e.yield || len(body) < minShare {
		return false
	}
	w, ok := e.reader.(comm.PeerMemoryWriter)
	return ok && w.CanWritePeerMemory(dest)
}

// shareOffset is where the sender's share of an n-byte body begins: the
// middle, rounded down to a page, so each side copies half.
func shareOffset(n int) int {
	return n / 2 &^ (4<<10 - 1)
}

// startShare asks the sender of msg to write its share into buf, copies
// the rest itself and reports true; false, having changed nothing, when the
// body is not worth sharing. The caller holds e.busy.
func (e *engine) startShare(r *recvOp, msg *message, buf []byte) bool {
	if e.yield || len(buf) < minShare {
		return false
	}
	src := msg.env.source
	s := &sharedCopy{buf: buf, offset: shareOffset(len(buf))}
	s.left.Store(2)
	e.mu.Lock()
	msg.remote.share = s
	e.mu.Unlock()
	e.sendRequest(src, comm.Header{Kind: kindCTS, Seq: msg.id, Tag: ctsShare}, encodeShareRequest(bodyAddress(buf), uint64(s.offset)))
	err := e.reader.ReadPeerMemory(src, msg.remote.addr, buf[:s.offset])
	e.partCopied(r, msg, s, err == nil)
	return true
}

// partCopied records that one part of shared copy s is in (ok) or could
// not be copied, and finishes the receive after the last part.
func (e *engine) partCopied(r *recvOp, msg *message, s *sharedCopy, ok bool) {
	if !ok {
		s.failed.Store(true)
	}
	if s.left.Add(-1) != 0 {
		return
	}
	if !s.failed.Load() {
		e.pulled(r, msg, s.buf)
		return
	}
	// Fall back to the socket: a plain clear-to-send makes the sender
	// send the whole body, which a kindWritten still on its way does
	// not disturb (no share is looked for any more).
	e.mu.Lock()
	msg.remote.share = nil
	_, ours := e.recvs[rndvKey{msg.env.source, msg.id}]
	e.mu.Unlock()
	if ours {
		e.sendControl(msg.env.source, comm.Header{Kind: kindCTS, Seq: msg.id})
	}
}

// onWritten handles a sender's kindWritten for rendezvous id: its share
// is in, or (failed) the receiver copies that part itself.
func (e *engine) onWritten(src int, id uint64, failed bool) {
	e.mu.Lock()
	r := e.recvs[rndvKey{src, id}]
	var s *sharedCopy
	if r != nil && r.msg != nil {
		s = r.msg.remote.share
	}
	e.mu.Unlock()
	if s == nil || s.written.Swap(true) {
		return // not a shared copy of ours (any more), or said twice
	}
	ok := !failed
	if ok {
		e.shared.Add(1)
	} else {
		e.busy.Add(1)
		ok = e.reader.ReadPeerMemory(src, r.msg.remote.addr+uint64(s.offset), s.buf[s.offset:]) == nil
		e.busy.Add(-1)
	}
	e.partCopied(r, r.msg, s, ok)
}

// writeShare handles a receiver's ctsShare for send id: it writes the
// send's body from the asked offset on into the receiver's memory and
// answers kindWritten, marked writeFailed when it could not. A send no
// longer waiting (its receiver is gone) gets no answer.
func (e *engine) writeShare(dest int, id uint64, payload []byte) {
	e.mu.Lock()
	op := e.sends[id]
	e.mu.Unlock()
	if op == nil {
		return
	}
	answer := comm.Header{Kind: kindWritten, Seq: id}
	addr, offset, ok := decodeShareRequest(payload)
	w, can := e.reader.(comm.PeerMemoryWriter)
	if !ok || !can || op.dest != dest || op.eager || offset >= uint64(len(op.body)) {
		answer.Tag = writeFailed
	} else {
		e.busy.Add(1)
		e.slowCopy()
		if w.WritePeerMemory(dest, addr+offset, op.body[offset:]) != nil {
			answer.Tag = writeFailed
		}
		e.busy.Add(-1)
	}
	e.sendControl(dest, answer)
}

// sendRequest sends a frame with a small payload to dest: at once when
// the transport can, else from a goroutine of its own (counted as sent
// before it starts, waited for by Finalize). A failure means dest is gone,
// which PeerGone reports.
func (e *engine) sendRequest(dest int, h comm.Header, payload []byte) {
	if ts, ok := e.t.(comm.TrySender); ok {
		e.countSend(dest)
		if sent, _ := ts.TrySend(dest, h, payload); sent {
			return
		}
		e.uncountSend(dest)
	}
	e.countSend(dest) // before the caller's handler returns: see countSend
	e.goAsync(func() {
		if e.t.Send(context.Background(), dest, h, payload) != nil {
			e.uncountSend(dest)
		}
	})
}

// sendControl sends a payload-less frame to dest, as sendRequest.
func (e *engine) sendControl(dest int, h comm.Header) { e.sendRequest(dest, h, nil) }
