package mpi

import (
	"fmt"

	"github.com/gorun-mpi/gorun/collectives"
	"github.com/gorun-mpi/gorun/internal/control"
)

// collConn is one collective call's point-to-point service: messages on the
// communicator's collective context (never matched by user receives), with
// tags that carry the call's sequence number, so back-to-back collectives
// cannot mix.
type collConn struct {
	c   *Comm
	op  string
	seq uint32
}

// collConn starts a collective call named op on c.
func (c *Comm) collConn(op string) (collectives.Conn, error) {
	if err := c.usable(); err != nil {
		return nil, c.wrapErr(op, noPeer, noTag, err)
	}
	seq := c.shared.collSeq.Add(1)
	return &collConn{c: c, op: op, seq: seq}, nil
}

// wireTag combines the call's sequence (19 bits) and the algorithm's step
// tag (12 bits, collectives.MaxTag).
func (k *collConn) wireTag(tag int) int {
	return int(k.seq&(1<<19-1))<<12 | tag&(collectives.MaxTag-1)
}

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
	err := k.c.e.send(k.c.goctx, k.c.ctx+1, k.c.group[dest], k.wireTag(tag), nil, payload, false, k.describe("send to", dest))
	return k.c.wrapErr(k.op, dest, noTag, err)
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
		return nil, k.c.wrapErr(k.op, source, noTag, err)
	}
	if r.msg.rndv {
		return joinMessage(r.msg.head, r.msg.body), nil
	}
	return r.msg.body, nil
}

func (k *collConn) describe(dir string, peer int) callInfo {
	return func() control.Wait {
		return control.Wait{Call: fmt.Sprintf("%s(%s %d)", k.op, dir, peer), Op: k.op,
			Peer: k.c.group[peer], Comm: k.c.ctx + 1, Recv: dir == "receive from"}
	}
}
