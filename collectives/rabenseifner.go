package collectives

import (
	"fmt"
	"math/bits"
)

// rabenseifnerAllreduce is Rabenseifner's allreduce for slices already
// known to have the same length everywhere and a commutative operator:
// a reduce-scatter by recursive halving, then an allgather by recursive
// doubling, 2*log2(p) steps in all against the ring's 2(p-1), moving the
// same amount of data (about twice the vector per rank). Fewer, larger
// steps matter most when ranks share cores, where every step waits for the
// slowest rank to be scheduled.
//
// A size p that is not a power of two is first folded, as in MPICH: of the
// first 2*rem ranks (rem = p - 2^k), each even rank hands its vector to the
// odd rank after it and waits; the 2^k ranks left run the algorithm; the
// odd ranks then hand the result back. Each element is reduced on one rank
// only and copied bit for bit to the others, so every rank gets the same
// bits.
func rabenseifnerAllreduce[E any](c Conn, codec Codec[[]E], v []E, op Op[E]) ([]E, error) {
	p, me := c.Size(), c.Rank()
	n := len(v)
	pof2 := 1 << (bits.Len(uint(p)) - 1)
	rem := p - pof2
	kernel := op.Kernel
	if kernel == nil {
		kernel = func(dst, a, b []E) {
			for i := range dst {
				dst[i] = op.Fn(a[i], b[i])
			}
		}
	}
	out := make([]E, n)
	buffered, _ := c.(BufferedConn)
	raw := isRaw(codec) && buffered != nil

	send := func(data []E, dest, tag int) error {
		payload, err := codec.Encode(data)
		if err != nil {
			return fmt.Errorf("encoding %d elements: %w", len(data), err)
		}
		return c.Send(payload, dest, tag)
	}
	recv := func(source, tag, want int) ([]E, error) {
		got, err := c.Recv(source, tag)
		if err != nil {
			return nil, err
		}
		return decodeChunk(codec, got, want, source)
	}
	// exchange sends data to partner and receives want elements from it,
	// into into when the connection can read straight into memory.
	exchange := func(data []E, partner, tag int, into []E) ([]E, error) {
		payload, err := codec.Encode(data)
		if err != nil {
			return nil, fmt.Errorf("encoding %d elements: %w", len(data), err)
		}
		var got []byte
		if raw {
			buf, _ := codec.Encode(into)
			got, err = buffered.SendrecvInto(payload, partner, tag, buf, partner, tag)
		} else {
			got, err = c.Sendrecv(payload, partner, tag, partner, tag)
		}
		if err != nil {
			return nil, err
		}
		return decodeChunk(codec, got, len(into), partner)
	}

	// Fold to a power of two.
	src := v // the running partial result: v until the first reduction
	newRank := me - rem
	switch {
	case me < 2*rem && me%2 == 0:
		if err := send(v, me+1, allreduceTagRS); err != nil {
			return nil, err
		}
		in, err := recv(me+1, allreduceTagAG, n)
		if err != nil {
			return nil, err
		}
		copy(out, in)
		return out, nil
	case me < 2*rem:
		in, err := recv(me-1, allreduceTagRS, n)
		if err != nil {
			return nil, err
		}
		kernel(out, in, v)
		src, newRank = out, me/2
	}
	world := func(nr int) int { // the rank of the folded rank nr
		if nr < rem {
			return 2*nr + 1
		}
		return nr + rem
	}
	block := func(i int) (int, int) { return partBounds(n, pof2, i) }

	// Reduce-scatter by recursive halving: the range of blocks this rank is
	// responsible for halves at each step, until it is block newRank.
	var scratch []E
	if raw {
		lo, _ := block(0)
		_, hi := block(pof2/2 - 1)
		scratch = make([]E, hi-lo) // the largest half
	}
	b0, b1 := 0, pof2
	for mask := pof2 / 2; mask >= 1; mask /= 2 {
		partner := newRank ^ mask
		mid := b0 + mask
		keep0, keep1, give0, give1 := b0, mid, mid, b1
		if newRank&mask != 0 {
			keep0, keep1, give0, give1 = mid, b1, b0, mid
		}
		klo, _ := block(keep0)
		_, khi := block(keep1 - 1)
		glo, _ := block(give0)
		_, ghi := block(give1 - 1)
		var into []E
		if raw {
			into = scratch[:khi-klo]
		} else {
			into = make([]E, khi-klo)
		}
		in, err := exchange(src[glo:ghi], world(partner), allreduceTagRS, into)
		if err != nil {
			return nil, err
		}
		// Lower rank on the left, though the operator is commutative.
		if newRank < partner {
			kernel(out[klo:khi], src[klo:khi], in)
		} else {
			kernel(out[klo:khi], in, src[klo:khi])
		}
		src = out
		b0, b1 = keep0, keep1
	}

	// Allgather by recursive doubling: the range of reduced blocks held
	// doubles at each step.
	for mask := 1; mask < pof2; mask *= 2 {
		partner := newRank ^ mask
		mine0 := newRank &^ (mask - 1)
		theirs0 := partner &^ (mask - 1)
		mlo, _ := block(mine0)
		_, mhi := block(mine0 + mask - 1)
		tlo, _ := block(theirs0)
		_, thi := block(theirs0 + mask - 1)
		in, err := exchange(out[mlo:mhi], world(partner), allreduceTagAG, out[tlo:thi])
		if err != nil {
			return nil, err
		}
		if len(in) > 0 && &in[0] != &out[tlo] {
			copy(out[tlo:thi], in)
		}
	}

	// Unfold: hand the result to the even rank that sat out.
	if me < 2*rem {
		if err := send(out, me-1, allreduceTagAG); err != nil {
			return nil, err
		}
	}
	return out, nil
}
