package mpi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/gorun-mpi/gorun/collectives"
)

// Split divides c into disjoint communicators, one per color: the ranks
// that pass the same color form a communicator, ordered by key and then by
// their rank in c. A rank that passes Undefined joins none and gets nil, nil.
// Every rank of c must call Split. Create communicators from one goroutine
// at a time per process.
func (c *Comm) Split(color, key int) (*Comm, error) {
	if color < 0 && color != Undefined {
		return nil, c.wrapErr("Split", noPeer, noTag, fmt.Errorf("mpi: color %d is negative (only Undefined may be)", color))
	}
	return c.derive("Split", color, key)
}

// Dup returns a communicator with the same group as c and a separate
// message space: messages sent on one are never received on the other.
// Every rank of c must call Dup.
func (c *Comm) Dup() (*Comm, error) {
	return c.derive("Dup", 0, c.Rank())
}

// errCommFreed is the error of a call on a communicator freed by Finalize.
var errCommFreed = fmt.Errorf("%w (of this communicator, made by Split or Dup; the world goes on)", ErrFinalized)

// free ends c, a communicator made by Split or Dup, on this rank: later
// calls on it, and on its WithContext views, fail with an error wrapping
// ErrFinalized; receives pending on it fail the same way. The world and
// every other communicator go on; sends already made on c still complete
// when their receivers take them. Freeing it again does nothing.
func (c *Comm) free() error {
	if !c.shared.freed.CompareAndSwap(false, true) {
		return nil
	}
	e := c.e
	e.mu.Lock()
	posted := e.match.takePosted(func(r *recvOp) bool { return r.ctx == c.ctx || r.ctx == c.ctx+1 })
	e.mu.Unlock()
	for _, r := range posted {
		r.finish(errCommFreed)
	}
	return nil
}

// member is one rank's contribution to a Split.
type member struct {
	color, key, rank int
	nextCtx          uint32
}

// derive agrees on the new communicators with every rank of c: rank 0
// gathers each rank's (color, key, lowest free context), chooses one context
// above every rank's (so no rank can already use it), and sends the result
// back.
func (c *Comm) derive(op string, color, key int) (_ *Comm, err error) {
	conn, err := c.collConn(op)
	if err != nil {
		return nil, err
	}
	defer func() {
		if errors.Is(err, collectives.ErrCollectiveMismatch) {
			c.breakColl(mismatchCause(err))
		}
	}()
	if _, err := conn.BeginCall(collectives.Signature{Call: collectives.Call{Kind: collectives.KindSplit}, Root: -1, Count: -1}); err != nil {
		return nil, c.wrapErr(op, noPeer, noTag, err)
	}
	c.e.mu.Lock()
	mine := member{color: color, key: key, rank: c.rank, nextCtx: c.e.nextCtx}
	c.e.mu.Unlock()

	var members []member
	var newCtx uint32
	if c.rank == 0 {
		members = []member{mine}
		for src := 1; src < c.Size(); src++ {
			payload, err := conn.Recv(src, 0)
			if err != nil {
				return nil, err
			}
			m, err := decodeMember(payload)
			if err != nil {
				return nil, c.wrapErr(op, src, noTag, err)
			}
			m.rank = src // the sender's rank comes from the transport, not its claim
			members = append(members, m)
		}
		for _, m := range members {
			newCtx = max(newCtx, m.nextCtx)
		}
		reply := encodeMembers(newCtx, members)
		for dst := 1; dst < c.Size(); dst++ {
			if err := conn.Send(reply, dst, 1); err != nil {
				return nil, err
			}
		}
	} else {
		if err := conn.Send(encodeMembers(0, []member{mine}), 0, 0); err != nil {
			return nil, err
		}
		reply, err := conn.Recv(0, 1)
		if err != nil {
			return nil, err
		}
		if newCtx, members, err = decodeMembers(reply); err != nil {
			return nil, c.wrapErr(op, 0, noTag, err)
		}
	}
	c.e.mu.Lock()
	c.e.nextCtx = max(c.e.nextCtx, newCtx+2)
	c.e.mu.Unlock()
	if color == Undefined {
		return nil, nil
	}
	var same []member
	for _, m := range members {
		if m.color == color {
			same = append(same, m)
		}
	}
	slices.SortStableFunc(same, func(a, b member) int {
		if a.key != b.key {
			return a.key - b.key
		}
		return a.rank - b.rank
	})
	group := make([]int, len(same))
	for i, m := range same {
		group[i] = c.group[m.rank]
	}
	return newComm(c.e, newCtx, group, c.shared.world), nil
}

func encodeMembers(ctx uint32, members []member) []byte {
	b := binary.LittleEndian.AppendUint32(nil, ctx)
	for _, m := range members {
		b = binary.LittleEndian.AppendUint64(b, uint64(int64(m.color)))
		b = binary.LittleEndian.AppendUint64(b, uint64(int64(m.key)))
		b = binary.LittleEndian.AppendUint64(b, uint64(int64(m.rank)))
		b = binary.LittleEndian.AppendUint32(b, m.nextCtx)
	}
	return b
}

func decodeMembers(b []byte) (uint32, []member, error) {
	const each = 28
	if len(b) < 4 || (len(b)-4)%each != 0 {
		return 0, nil, fmt.Errorf("mpi: malformed communicator agreement of %d bytes", len(b))
	}
	ctx := binary.LittleEndian.Uint32(b)
	var members []member
	for p := b[4:]; len(p) > 0; p = p[each:] {
		members = append(members, member{
			color:   int(int64(binary.LittleEndian.Uint64(p))),
			key:     int(int64(binary.LittleEndian.Uint64(p[8:]))),
			rank:    int(int64(binary.LittleEndian.Uint64(p[16:]))),
			nextCtx: binary.LittleEndian.Uint32(p[24:]),
		})
	}
	return ctx, members, nil
}

func decodeMember(b []byte) (member, error) {
	_, ms, err := decodeMembers(b)
	if err != nil || len(ms) != 1 {
		return member{}, fmt.Errorf("mpi: malformed Split contribution (%v)", err)
	}
	return ms[0], nil
}
