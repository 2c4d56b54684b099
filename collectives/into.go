package collectives

import (
	"fmt"
	"unsafe"
)

// This file holds the forms of Gather, Allgather, Alltoall and Scatter
// that take slices and write into the caller's buffer (as MPI's calls do,
// with one block of equal length per rank), and the slice forms of Gather,
// Allgather and Alltoall that join what they receive into new slices.
// Slices of numbers (a raw codec) go through the arena where the Conn has
// one (shmExchange); the others go by the message algorithms of Gather,
// Allgather and Alltoall, whose messages they share, so that a rank calling
// one form and another rank the other still meet.

// GatherInto copies every rank's part, in rank order, into out on root
// (out is not read elsewhere). Every rank's part must have the same length
// (the Conn, or the arena, compares them: ErrCollectiveMismatch and
// ErrLengthMismatch), and the root's out Size times that length: otherwise
// the root fails with ErrLengthMismatch, after taking its part in the
// exchange so that no rank waits for it (through the arena every rank
// learns of it).
func GatherInto[E any](c Conn, codec Codec[[]E], part, out []E, root int) error {
	p, me := c.Size(), c.Rank()
	if err := checkRoot(c, root); err != nil {
		return err
	}
	var own *failure
	if me == root && len(out) != p*len(part) {
		own = localFailure(me, wantLen("out", len(out), p*len(part),
			fmt.Sprintf("%d ranks of %d elements", p, len(part))))
	}
	a, err := exchangeArena(c, codec, "Gather")
	if err != nil {
		return err
	}
	sig, err := begin(c, Signature{Call: Call{Kind: KindGather}, Root: root, Elem: ElemOf[[]E](), Count: len(part)})
	if err != nil {
		return err
	}
	if p == 1 {
		if own != nil {
			return own.err()
		}
		copy(out, part)
		return nil
	}
	n := len(part)
	if a != nil {
		return shmExchange(a, fmt.Sprintf("GatherInto(root %d)", root), sig, checkCall(c), &exchange{
			kind: kindGather, root: root, send: [][]byte{bytesOf(part)}, own: own,
			recvInto: func(lens []int) ([]byte, error) {
				if err := equalParts(lens, n*elemSize[E]()); err != nil {
					return nil, err
				}
				return bytesOf(out), nil
			},
		})
	}
	alg, err := choose("Gather", p, 0)
	if err != nil {
		return err
	}
	parts, err := gatherEncoded(c, codec, part, root, alg, own)
	if err != nil || parts == nil {
		return err
	}
	for q, b := range parts {
		if q == me {
			copy(out[q*n:], part)
			continue
		}
		if err := decodeInto(codec, b, out[q*n:(q+1)*n], q); err != nil {
			return err
		}
	}
	return nil
}

// GatherJoined is Gather of slices, joined: root gets every rank's part one
// after the other in rank order, in a new slice; the others get nil. Parts
// may differ in length.
func GatherJoined[E any](c Conn, codec Codec[[]E], part []E, root int) ([]E, error) {
	a, err := exchangeArena(c, codec, "Gather")
	if a == nil || err != nil || checkRoot(c, root) != nil {
		parts, err := Gather(c, codec, part, root)
		if err != nil || parts == nil {
			return nil, err
		}
		return JoinParts(parts), nil
	}
	sig, err := begin(c, Signature{Call: Call{Kind: KindGather}, Root: root, Elem: ElemOf[[]E](), Count: -1})
	if err != nil {
		return nil, err
	}
	var out []E
	err = shmExchange(a, fmt.Sprintf("Gather(root %d)", root), sig, checkCall(c), &exchange{
		kind: kindGather, root: root, send: [][]byte{bytesOf(part)},
		recvInto: func(lens []int) ([]byte, error) { return joinedBuffer(&out, lens) },
	})
	if err != nil || c.Rank() != root {
		return nil, err
	}
	return out, nil
}

// AllgatherInto copies every rank's part, in rank order, into out on every
// rank, as MPI_Allgather. Every part must have the same length (as in
// GatherInto) and every out Size times that length: a rank whose out has
// another length fails with ErrLengthMismatch (through the arena, or by
// messages, every rank learns of it).
func AllgatherInto[E any](c Conn, codec Codec[[]E], part, out []E) error {
	p, me := c.Size(), c.Rank()
	var own *failure
	if len(out) != p*len(part) {
		own = localFailure(me, wantLen("out", len(out), p*len(part),
			fmt.Sprintf("%d ranks of %d elements", p, len(part))))
	}
	a, err := exchangeArena(c, codec, "Allgather")
	if err != nil {
		return err
	}
	sig, err := begin(c, Signature{Call: Call{Kind: KindAllgather}, Root: -1, Elem: ElemOf[[]E](), Count: len(part)})
	if err != nil {
		return err
	}
	if p == 1 {
		if own != nil {
			return own.err()
		}
		copy(out, part)
		return nil
	}
	n := len(part)
	if a != nil {
		return shmExchange(a, "AllgatherInto", sig, checkCall(c), &exchange{
			kind: kindAllgather, root: -1, send: [][]byte{bytesOf(part)}, own: own,
			recvInto: func(lens []int) ([]byte, error) {
				if err := equalParts(lens, n*elemSize[E]()); err != nil {
					return nil, err
				}
				return bytesOf(out), nil
			},
		})
	}
	parts, err := allgatherEncoded(c, codec, part, own)
	if err != nil {
		return err
	}
	for q, b := range parts {
		if q == me {
			copy(out[q*n:], part)
			continue
		}
		if err := decodeInto(codec, b, out[q*n:(q+1)*n], q); err != nil {
			return err
		}
	}
	return nil
}

// AllgatherJoined is Allgather of slices, joined: every rank gets every
// rank's part one after the other in rank order, in a new slice.
func AllgatherJoined[E any](c Conn, codec Codec[[]E], part []E) ([]E, error) {
	a, err := exchangeArena(c, codec, "Allgather")
	if a == nil || err != nil {
		parts, err := Allgather(c, codec, part)
		if err != nil {
			return nil, err
		}
		return JoinParts(parts), nil
	}
	sig, err := begin(c, Signature{Call: Call{Kind: KindAllgather}, Root: -1, Elem: ElemOf[[]E](), Count: -1})
	if err != nil {
		return nil, err
	}
	var out []E
	err = shmExchange(a, "Allgather", sig, checkCall(c), &exchange{
		kind: kindAllgather, root: -1, send: [][]byte{bytesOf(part)},
		recvInto: func(lens []int) ([]byte, error) { return joinedBuffer(&out, lens) },
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// allgatherEncoded is Allgather's exchange of encoded parts, by rank, for a
// call already begun; own is this rank's failure, which reaches every rank.
func allgatherEncoded[E any](c Conn, codec Codec[[]E], part []E, own *failure) ([][]byte, error) {
	alg, err := choose("Allgather", c.Size(), 0)
	if err != nil {
		return nil, err
	}
	f := own
	var msg []byte
	if f == nil {
		if msg, err = codec.Encode(part); err != nil {
			f = localFailure(c.Rank(), fmt.Errorf("encoding the part of rank %d: %w", c.Rank(), err))
		}
	}
	if alg == algRing {
		return allgatherRing(c, msg, f)
	}
	return allgatherRD(c, msg, f)
}

// AlltoallInto sends block j of send to rank j and writes the block from
// rank i at block i of recv, as MPI_Alltoall: send and recv hold Size
// blocks of equal length, one after the other. Every rank's blocks must
// have the same length (ErrCollectiveMismatch and ErrLengthMismatch
// otherwise); a rank whose send is not Size blocks, or whose recv has
// another length than its send, fails with ErrLengthMismatch and every rank
// learns of it.
func AlltoallInto[E any](c Conn, codec Codec[[]E], send, recv []E) error {
	p, me := c.Size(), c.Rank()
	var own *failure
	switch {
	case len(send)%p != 0:
		own = localFailure(me, failf(ErrLengthMismatch, "send has %d elements, not %d blocks of equal length", len(send), p))
	case len(recv) != len(send):
		own = localFailure(me, wantLen("recv", len(recv), len(send), "send's length"))
	}
	n := len(send) / p
	count := n
	if own != nil {
		count = -1 // the failure, not a length, is the news
	}
	a, err := exchangeArena(c, codec, "Alltoall")
	if err != nil {
		return err
	}
	if _, err := choose("Alltoall", p, 0); err != nil {
		return err
	}
	sig, err := begin(c, Signature{Call: Call{Kind: KindAlltoall}, Root: -1, Elem: ElemOf[[]E](), Count: count})
	if err != nil {
		return err
	}
	if p == 1 {
		if own != nil {
			return own.err()
		}
		copy(recv, send)
		return nil
	}
	if a != nil {
		blocks := make([][]byte, p)
		if own == nil {
			for j := range blocks {
				blocks[j] = bytesOf(send[j*n : (j+1)*n])
			}
		}
		return shmExchange(a, "AlltoallInto", sig, checkCall(c), &exchange{
			kind: kindAlltoall, root: -1, send: blocks, own: own,
			recvInto: func(in []int) ([]byte, error) {
				if err := equalParts(in, n*elemSize[E]()); err != nil {
					return nil, err
				}
				return bytesOf(recv), nil
			},
		})
	}
	enc := make([][]byte, p)
	if own == nil {
		for j := range enc {
			if j == me {
				continue
			}
			if enc[j], err = codec.Encode(send[j*n : (j+1)*n]); err != nil {
				own = localFailure(me, fmt.Errorf("encoding the block for rank %d: %w", j, err))
				break
			}
		}
	}
	err = alltoallPairwise(c, enc, own, func(src int, body []byte) error {
		return decodeInto(codec, body, recv[src*n:(src+1)*n], src)
	})
	if err != nil {
		return err
	}
	copy(recv[me*n:(me+1)*n], send[me*n:(me+1)*n])
	return nil
}

// AlltoallSlices is Alltoall of slices: parts[j] goes to rank j, and the
// result holds at index i a new slice with the part rank i sent here.
// Parts may differ in length.
func AlltoallSlices[E any](c Conn, codec Codec[[]E], parts [][]E) ([][]E, error) {
	p, me := c.Size(), c.Rank()
	a, err := exchangeArena(c, codec, "Alltoall")
	if a == nil || err != nil {
		out, err := Alltoall(c, codec, parts)
		if err != nil {
			return nil, err
		}
		out[me] = append(make([]E, 0, len(out[me])), out[me]...)
		return out, nil
	}
	sig, err := begin(c, Signature{Call: Call{Kind: KindAlltoall}, Root: -1, Elem: ElemOf[[]E](), Count: -1})
	if err != nil {
		return nil, err
	}
	x := &exchange{kind: kindAlltoall, root: -1}
	if len(parts) != p {
		x.own = localFailure(me, failf(ErrParts, "%d parts for %d ranks", len(parts), p))
	} else {
		x.send = make([][]byte, p)
		for j, part := range parts {
			x.send[j] = bytesOf(part)
		}
	}
	var joined []E
	var inLens []int
	x.recvInto = func(lens []int) ([]byte, error) {
		inLens = lens
		return joinedBuffer(&joined, lens)
	}
	if err := shmExchange(a, "Alltoall", sig, checkCall(c), x); err != nil {
		return nil, err
	}
	out := make([][]E, p)
	es := elemSize[E]()
	at := 0
	for q := range out {
		n := inLens[q] / es
		out[q] = joined[at : at+n : at+n]
		at += n
	}
	return out, nil
}

// ScatterInto copies block i of root's data into out on rank i, as
// MPI_Scatter: data (read on the root only) holds Size blocks of out's
// length, one after the other. A root whose data has another length fails
// with ErrLengthMismatch, and every rank learns of it; a rank whose out has
// another length than the root's blocks fails with ErrLengthMismatch.
// It goes by Scatter's messages.
func ScatterInto[E any](c Conn, codec Codec[[]E], data, out []E, root int) error {
	p, me := c.Size(), c.Rank()
	if err := checkRoot(c, root); err != nil {
		return err
	}
	n := len(out)
	var own *failure
	var parts [][]E
	if me == root {
		if len(data) != p*n {
			own = localFailure(me, wantLen("data", len(data), p*n,
				fmt.Sprintf("%d ranks of out's %d elements", p, n)))
		} else {
			parts = make([][]E, p)
			for i := range parts {
				parts[i] = data[i*n : (i+1)*n : (i+1)*n]
			}
		}
	}
	got, err := scatter(c, codec, parts, root, own, -1)
	if err != nil {
		return err
	}
	if len(got) != n {
		return wantLen("out", n, len(got), "the root's block")
	}
	copy(out, got)
	return nil
}

// decodeInto decodes the block from rank q into dst, which it must fill.
func decodeInto[E any](codec Codec[[]E], b []byte, dst []E, q int) error {
	v, err := codec.Decode(b)
	if err != nil {
		return fmt.Errorf("decoding the block of rank %d: %w", q, err)
	}
	if len(v) != len(dst) {
		return failf(ErrLengthMismatch, "rank %d sent %d elements, this rank expects %d", q, len(v), len(dst))
	}
	copy(dst, v)
	return nil
}

// equalParts checks that every rank sends want bytes.
func equalParts(lens []int, want int) error {
	for q, n := range lens {
		if n != want {
			return failf(ErrLengthMismatch, "rank %d sends %d bytes, this rank expects %d", q, n, want)
		}
	}
	return nil
}

// joinedBuffer makes *out a new slice for the bytes lens (by rank) and
// returns its memory.
func joinedBuffer[E any](out *[]E, lens []int) ([]byte, error) {
	total := 0
	for _, n := range lens {
		total += n
	}
	*out = make([]E, total/elemSize[E]())
	return bytesOf(*out), nil
}

// JoinParts concatenates parts into one new slice, never nil (an empty
// one when every part is empty): a Gather's result on its root, which the
// other ranks tell apart by their nil.
func JoinParts[E any](parts [][]E) []E {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]E, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// elemSize is the size of an E in bytes.
func elemSize[E any]() int { return int(unsafe.Sizeof(*new(E))) }
