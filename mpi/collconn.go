package mpi

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gorun-mpi/gorun/collectives"
	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/control"
)

// collConn is one collective call's point-to-point service: messages on the
// communicator's collective context (never matched by user receives), with
// tags that carry the call's sequence number, so back-to-back collectives
// cannot mix, and a descriptor that carries the call's signature, so that
// ranks in different calls find out (collwatch.go).
type collConn struct {
	c    *Comm
	op   string
	seq  uint32
	desc [collectives.SignatureLen]byte // the call's signature, encoded (zeros before BeginCall)
}

// sig is the call's signature (the zero Signature before BeginCall).
func (k *collConn) sig() collectives.Signature {
	s, _ := collectives.ParseSignature(k.desc[:])
	return s
}

// collConn starts a collective call named op on c, in the service the
// call before left (releaseConn) when no other call of c's holds it.
func (c *Comm) collConn(op string) (*collConn, error) {
	if err := c.usable(); err != nil {
		return nil, c.wrapErr(op, noPeer, noTag, err)
	}
	seq := c.shared.collSeq.Add(1)
	k := c.shared.spareConn.Swap(nil)
	if k == nil {
		k = new(collConn)
	}
	*k = collConn{c: c, op: op, seq: seq}
	return k, nil
}

// releaseConn keeps k, whose call has returned and which nothing holds
// any more, for c's next collective call.
func (c *Comm) releaseConn(k *collConn) { c.shared.spareConn.Store(k) }

// wireTag combines the call's sequence (19 bits) and the algorithm's step
// tag (12 bits, collectives.MaxTag).
func (k *collConn) wireTag(tag int) int {
	return int(k.seq&(1<<19-1))<<12 | tag&(collectives.MaxTag-1)
}

// BeginCall records the call's signature (collectives.CallConn): it goes
// with every message of the call, and the matcher judges arrivals by it.
func (k *collConn) BeginCall(s collectives.Signature) (collectives.Signature, error) {
	s.Seq = k.seq
	s.Put(k.desc[:])
	e := k.c.e
	e.mu.Lock()
	w := k.c.shared.watch
	if w == nil {
		w = e.match.newWatch(k.c.ctx+1, k.c.rank, k.c.local)
		k.c.shared.watch = w
	}
	err := w.begin(k.seq, s)
	start := !e.match.watchdog && e.t != nil
	e.match.watchdog = e.match.watchdog || start
	e.mu.Unlock()
	if start {
		go e.watchColls()
	}
	return s, err
}

// CheckCall returns the mismatch this rank has learned of since the call
// began (collectives.CallConn).
func (k *collConn) CheckCall() error { return k.c.collBroken() }

func (k *collConn) Rank() int { return k.c.rank }
func (k *collConn) Size() int { return len(k.c.group) }

func (k *collConn) checkPeer(peer, tag int) error {
	if peer < 0 || peer >= len(k.c.group) {
		return fmt.Errorf("%w: collective peer %d is not in [0, %d)", ErrRank, peer, len(k.c.group))
	}
	if tag < 0 || tag >= collectives.MaxTag {
		return fmt.Errorf("%w: collective step tag %d", ErrTag, tag)
	}
	return nil
}

func (k *collConn) Send(payload []byte, dest, tag int) error {
	if err := k.checkPeer(dest, tag); err != nil {
		return k.c.wrapErr(k.op, dest, noTag, err)
	}
	err := k.c.e.send(k.c.goctx, k.c.ctx+1, k.c.group[dest], k.wireTag(tag), k.desc[:], payload, false, k.describe("send to", dest))
	return k.commErr(dest, err)
}

// commErr wraps a communication error with peer, or, when this rank has
// learned of a mismatch meanwhile (the peer may have failed or finished
// because of it), returns the mismatch instead.
func (k *collConn) commErr(peer int, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrPeerLost) {
		if errors.Is(err, comm.ErrPeerFinished) {
			k.awaitGoodbye(peer)
		}
		if broken := k.c.collBroken(); broken != nil {
			return k.c.wrapErr(k.op, noPeer, noTag, broken)
		}
	}
	return k.c.wrapErr(k.op, peer, noTag, err)
}

// goodbyeTag is a collective wire tag no message carries: a receive posted
// with it ends only when its peer is gone (or with a mismatch alarm).
const goodbyeTag = -3

// awaitGoodbye waits until this rank has handled everything peer sent
// before it finished: peer's goodbye, which follows them on the same path,
// fails a receive posted for it. A send can learn that peer finished (its
// socket is closing) before the frames peer sent last, such as the alarm of
// a collective mismatch that made it finish, have been handled here; the
// error of the call is then the mismatch, as on the ranks that heard the
// alarm in time, not a lost peer. A finished peer always says goodbye, so
// the wait ends; a call bound to a Go context also ends with it.
func (k *collConn) awaitGoodbye(peer int) {
	r := k.c.e.postRecv(k.c.ctx+1, k.c.group[peer], goodbyeTag)
	if err := k.c.e.await(k.c.goctx, &r.completion, k.describe("goodbye of", peer)); err != nil && !r.isDone() {
		if !k.c.e.cancelRecv(r) {
			<-r.done
		}
	}
}

func (k *collConn) Recv(source, tag int) ([]byte, error) {
	if err := k.checkPeer(source, tag); err != nil {
		return nil, k.c.wrapErr(k.op, source, noTag, err)
	}
	r := k.c.e.postRecv(k.c.ctx+1, k.c.group[source], k.wireTag(tag))
	return k.finishRecv(r, source)
}

func (k *collConn) Sendrecv(payload []byte, dest, sendTag int, source, recvTag int) ([]byte, error) {
	if err := k.checkPeer(source, recvTag); err != nil {
		return nil, k.c.wrapErr(k.op, source, noTag, err)
	}
	r := k.c.e.postRecv(k.c.ctx+1, k.c.group[source], k.wireTag(recvTag))
	if err := k.Send(payload, dest, sendTag); err != nil {
		if !k.c.e.cancelRecv(r) {
			<-r.done
		}
		return nil, err
	}
	return k.finishRecv(r, source)
}

// SendrecvInto is Sendrecv whose rendezvous payload is read straight into
// buf when it fits (collectives.BufferedConn).
func (k *collConn) SendrecvInto(payload []byte, dest, sendTag int, buf []byte, source, recvTag int) ([]byte, error) {
	if err := k.checkPeer(source, recvTag); err != nil {
		return nil, k.c.wrapErr(k.op, source, noTag, err)
	}
	var r *recvOp
	if k.c.goctx == nil && len(buf) > 0 {
		r = k.c.e.postRecvBytes(k.c.ctx+1, k.c.group[source], k.wireTag(recvTag), buf)
	} else {
		r = k.c.e.postRecv(k.c.ctx+1, k.c.group[source], k.wireTag(recvTag))
	}
	if err := k.Send(payload, dest, sendTag); err != nil {
		if !k.c.e.cancelRecv(r) {
			<-r.done
		}
		return nil, err
	}
	return k.finishRecv(r, source)
}

func (k *collConn) finishRecv(r *recvOp, source int) ([]byte, error) {
	err := k.c.e.await(k.c.goctx, &r.completion, k.describe("receive from", source))
	if err != nil && isContextErr(err) && !r.isDone() {
		if k.c.e.cancelRecv(r) {
			return nil, k.c.wrapErr(k.op, source, noTag, err)
		}
		<-r.done
		err = r.err
	}
	if err != nil {
		return nil, k.commErr(source, err)
	}
	msg := r.msg
	if msg.env.tag != r.tag || msg.env.source != r.source {
		// Evidence of a mismatch, or an alarm, that the matcher gave this
		// receive to wake it.
		if err := k.c.collBroken(); err != nil {
			return nil, k.c.wrapErr(k.op, noPeer, noTag, err)
		}
		return nil, k.c.wrapErr(k.op, source, noTag, fmt.Errorf("%w: a collective message of tag %d from world rank %d", collectives.ErrProtocol, msg.env.tag, msg.env.source))
	}
	head, body := msg.head, msg.body
	if !msg.rndv {
		if len(body) < collectives.SignatureLen {
			return nil, k.c.wrapErr(k.op, source, noTag, fmt.Errorf("%w: a collective message of %d bytes", collectives.ErrProtocol, len(body)))
		}
		head, body = body[:collectives.SignatureLen], body[collectives.SignatureLen:]
	}
	if bytes.Equal(head, k.desc[:]) {
		return body, nil // the same call (the usual case: no decoding)
	}
	if theirs, ok := collectives.ParseSignature(head); ok && k.sig().Kind != 0 && !k.sig().Matches(theirs) {
		return nil, k.c.wrapErr(k.op, noPeer, noTag, collectives.Mismatch(k.c.rank, k.sig(), source, theirs))
	}
	return body, nil
}

func (k *collConn) describe(dir string, peer int) callInfo {
	return func() control.Wait {
		return control.Wait{Call: fmt.Sprintf("%s(%s %d)", k.op, dir, peer), Op: k.op,
			Peer: k.c.group[peer], Comm: k.c.ctx + 1, Recv: dir == "receive from"}
	}
}
