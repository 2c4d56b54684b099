package collectives

import (
	"fmt"
)

// Tags of Allgather.
const (
	allgatherTagRing = 0
	allgatherTagRD   = 1 // recursive doubling, rdTagSpan tags from here
)

// Allgather collects every rank's part on every rank, in rank order; the
// entry of this rank is part itself. Parts may differ in size between ranks.
// By default recursive doubling exchanges bundles of parts in log2 p steps
// (folding groups that are not a power of two); GORUN_COLL_ALLGATHER=ring
// passes each part around a ring in p-1 steps, forwarding the bytes
// received without re-encoding them. A failure on any rank (its part could
// not be encoded) reaches every rank as an error.
func Allgather[T any](c Conn, codec Codec[T], part T) ([]T, error) {
	p, me := c.Size(), c.Rank()
	alg, err := choose("Allgather", p, 0)
	if err != nil {
		return nil, err
	}
	if _, err := begin(c, Signature{Call: Call{Kind: KindAllgather}, Root: -1, Elem: ElemOf[T](), Count: -1}); err != nil {
		return nil, err
	}
	var f *failure
	msg, err := codec.Encode(part)
	if err != nil {
		f = localFailure(me, fmt.Errorf("encoding the part of rank %d: %w", me, err))
	}
	var parts [][]byte
	if alg == algRing {
		parts, err = allgatherRing(c, msg, f)
	} else {
		parts, err = allgatherRD(c, msg, f)
	}
	if err != nil {
		return nil, err
	}
	out := make([]T, p)
	for i, b := range parts {
		if i == me {
			out[i] = part
			continue
		}
		v, err := codec.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("decoding the part of rank %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// allgatherRing returns every rank's encoded part, by rank. At step k each
// rank forwards to its right the message of rank me-k and receives that of
// rank me-k-1 from its left.
func allgatherRing(c Conn, own []byte, f *failure) ([][]byte, error) {
	p, me := c.Size(), c.Rank()
	msgs := make([][]byte, p)
	if f != nil {
		msgs[me] = failureFrame(f)
	} else {
		msgs[me] = frame(header{alg: byte(algRing), rank: uint32(me)}, own)
	}
	right, left := (me+1)%p, (me-1+p)%p
	for k := 0; k < p-1; k++ {
		got, err := c.Sendrecv(msgs[(me-k+p)%p], right, allgatherTagRing, left, allgatherTagRing)
		if err != nil {
			return nil, err
		}
		msgs[(me-k-1+2*p)%p] = got
	}
	parts := make([][]byte, p)
	for i, m := range msgs {
		h, body, rf := readFrame(me, m)
		if rf == nil && (algorithm(h.alg) != algRing || int(h.rank) != i) {
			rf = localFailure(me, failf(ErrProtocol, "ring allgather message of rank %d (%s) in the place of rank %d", h.rank, algorithm(h.alg), i))
		}
		f = firstFailure(f, rf)
		parts[i] = body
	}
	if f != nil {
		return nil, f.err()
	}
	return parts, nil
}

// gatherBlock is the state of a recursive doubling allgather: the encoded
// parts of the contiguous ranks from low, or a failure.
type gatherBlock struct {
	low   int
	parts [][]byte
	fail  *failure
}

// allgatherRD returns every rank's encoded part, by rank.
func allgatherRD(c Conn, own []byte, f *failure) ([][]byte, error) {
	p, me := c.Size(), c.Rank()
	ops := exchangeOps[gatherBlock]{
		encode: func(b *gatherBlock) []byte {
			if b.fail != nil {
				return failureFrame(b.fail)
			}
			return bundle(header{alg: byte(algRecursiveDoubling), rank: uint32(b.low)}, b.parts)
		},
		decode: func(m []byte) gatherBlock {
			h, body, rf := readFrame(me, m)
			if rf != nil {
				return gatherBlock{fail: rf}
			}
			if algorithm(h.alg) != algRecursiveDoubling || h.count > uint64(p) {
				return gatherBlock{fail: localFailure(me, failf(ErrProtocol, "allgather bundle of %d parts by %s", h.count, algorithm(h.alg)))}
			}
			parts, err := unbundle(h, body, int(h.count))
			if err != nil {
				return gatherBlock{fail: localFailure(me, err)}
			}
			return gatherBlock{low: int(h.rank), parts: parts}
		},
		merge: func(lower, upper gatherBlock) gatherBlock {
			if rf := firstFailure(lower.fail, upper.fail); rf != nil {
				return gatherBlock{fail: rf}
			}
			if lower.low+len(lower.parts) != upper.low {
				return gatherBlock{fail: localFailure(me, failf(ErrProtocol, "allgather blocks from rank %d (%d parts) and rank %d do not meet", lower.low, len(lower.parts), upper.low))}
			}
			return gatherBlock{low: lower.low, parts: append(lower.parts[:len(lower.parts):len(lower.parts)], upper.parts...)}
		},
	}
	res, err := recursiveDoubling(c, allgatherTagRD, gatherBlock{low: me, parts: [][]byte{own}, fail: f}, ops)
	switch {
	case err != nil:
		return nil, err
	case res.fail != nil:
		return nil, prefer(res.fail, f).err()
	case res.low != 0 || len(res.parts) != p:
		return nil, failf(ErrProtocol, "allgather ended with %d parts from rank %d", len(res.parts), res.low)
	}
	return res.parts, nil
}
