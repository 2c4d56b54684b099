package collectives

import (
	"fmt"
)

// gatherTag is the one tag Gather uses.
const gatherTag = 0

// Gather collects every rank's part on root, in rank order; the other ranks
// get nil. The root's own entry is part itself. By default each rank of a
// binomial tree forwards one bundle holding its subtree's parts (log2 p steps
// for the root); GORUN_COLL_GATHER=linear has every rank send straight to
// the root instead. A failure on any rank (its part could not be encoded)
// reaches the root as an error.
func Gather[T any](c Conn, codec Codec[T], part T, root int) ([]T, error) {
	p, me := c.Size(), c.Rank()
	if err := checkRoot(c, root); err != nil {
		return nil, err
	}
	alg, err := choose("Gather", p, 0)
	if err != nil {
		return nil, err
	}
	if _, err := begin(c, Signature{Call: Call{Kind: KindGather}, Root: root, Elem: ElemOf[T](), Count: -1}); err != nil {
		return nil, err
	}
	parts, err := gatherEncoded(c, codec, part, root, alg, nil)
	if err != nil || parts == nil {
		return nil, err
	}
	out := make([]T, p)
	for q, b := range parts {
		if q == me {
			continue
		}
		v, err := codec.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("decoding the part of rank %d: %w", q, err)
		}
		out[q] = v
	}
	out[root] = part
	return out, nil
}

// gatherEncoded gathers every rank's encoded part on root, by rank (root's
// own entry is its encoded part); the other ranks get nil. own is this
// rank's failure, if any, which reaches the root in place of its part.
func gatherEncoded[T any](c Conn, codec Codec[T], part T, root int, alg algorithm, own *failure) ([][]byte, error) {
	p, me := c.Size(), c.Rank()
	f := own
	var mine []byte
	if f == nil {
		var err error
		if mine, err = codec.Encode(part); err != nil {
			f = localFailure(me, fmt.Errorf("encoding the part of rank %d: %w", me, err))
		}
	}
	vr := toVirtual(me, root, p)
	h := header{alg: byte(alg), rank: uint32(me)}
	var parts [][]byte // by virtual rank, from vr on
	if alg == algLinear {
		if me != root {
			return nil, sendGathered(c, root, h, [][]byte{mine}, f)
		}
		parts = make([][]byte, p)
		parts[0] = mine
		for i := 1; i < p; i++ {
			got, err := c.Recv(fromVirtual(i, root, p), gatherTag)
			if err != nil {
				return nil, err
			}
			more, rf := gatheredParts(me, got, alg, 1)
			f = firstFailure(f, rf)
			if rf == nil {
				parts[i] = more[0]
			}
		}
	} else {
		parts = [][]byte{mine}
		for mask := 1; mask < p; mask <<= 1 {
			if vr&mask != 0 {
				return nil, sendGathered(c, fromVirtual(vr-mask, root, p), h, parts, f)
			}
			if vr+mask >= p {
				continue
			}
			got, err := c.Recv(fromVirtual(vr+mask, root, p), gatherTag)
			if err != nil {
				return nil, err
			}
			more, rf := gatheredParts(me, got, alg, subtreeSize(vr+mask, p))
			f = firstFailure(f, rf)
			parts = append(parts, more...)
		}
	}
	if f != nil {
		return nil, f.err()
	}
	byRank := make([][]byte, p)
	for i, b := range parts {
		byRank[fromVirtual(i, root, p)] = b
	}
	return byRank, nil
}

// sendGathered sends parts (or the failure f) up to dest and reports f.
func sendGathered(c Conn, dest int, h header, parts [][]byte, f *failure) error {
	msg := []byte(nil)
	if f != nil {
		msg = failureFrame(f)
	} else {
		msg = bundle(h, parts)
	}
	if err := c.Send(msg, dest, gatherTag); err != nil {
		return err
	}
	if f != nil {
		return f.err()
	}
	return nil
}

// gatheredParts unpacks a received bundle of want parts.
func gatheredParts(me int, got []byte, alg algorithm, want int) ([][]byte, *failure) {
	h, body, f := readFrame(me, got)
	if f != nil {
		return nil, f
	}
	if algorithm(h.alg) != alg {
		return nil, localFailure(me, failf(ErrAlgorithm, "rank %d gathered by %s, this rank by %s", h.rank, algorithm(h.alg), alg))
	}
	parts, err := unbundle(h, body, want)
	if err != nil {
		return nil, localFailure(me, err)
	}
	return parts, nil
}
