package collectives

import (
	"fmt"
)

// alltoallTag is the one tag Alltoall uses.
const alltoallTag = 0

// Alltoall sends parts[j] to rank j and returns, at index i, the part rank i
// sent here; the entry of this rank is parts[rank] itself. parts must number
// Size: a rank given another number still takes part in every exchange,
// sending its failure instead of data, so every rank returns an error
// wrapping ErrParts. It uses pairwise exchange: at step k each rank sends to
// rank+k and receives from rank-k, with one Sendrecv, so no step can
// deadlock and no rank receives from two others at once.
func Alltoall[T any](c Conn, codec Codec[T], parts []T) ([]T, error) {
	p, me := c.Size(), c.Rank()
	if _, err := choose("Alltoall", p, 0); err != nil {
		return nil, err
	}
	if _, err := begin(c, Signature{Call: Call{Kind: KindAlltoall}, Root: -1, Elem: ElemOf[T](), Count: -1}); err != nil {
		return nil, err
	}
	var f *failure
	enc := make([][]byte, p)
	if len(parts) != p {
		f = localFailure(me, failf(ErrParts, "%d parts for %d ranks", len(parts), p))
	} else {
		for j := range enc {
			if j == me {
				continue
			}
			b, err := codec.Encode(parts[j])
			if err != nil {
				f = localFailure(me, fmt.Errorf("encoding the part for rank %d: %w", j, err))
				break
			}
			enc[j] = b
		}
	}
	out := make([]T, p)
	err := alltoallPairwise(c, enc, f, func(src int, body []byte) error {
		v, err := codec.Decode(body)
		if err != nil {
			return fmt.Errorf("decoding the part from rank %d: %w", src, err)
		}
		out[src] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	out[me] = parts[me]
	return out, nil
}

// alltoallPairwise sends enc[j] to rank j and hands take, in turn, each
// body received (from rank src), by pairwise exchange. own is this rank's
// failure, sent to every rank in place of data; a failure received, or
// take's error, is kept and returned once every exchange is done, so that
// no rank waits for one that left early.
func alltoallPairwise(c Conn, enc [][]byte, own *failure, take func(src int, body []byte) error) error {
	p, me := c.Size(), c.Rank()
	f := own
	for k := 1; k < p; k++ {
		dest, src := (me+k)%p, (me-k+p)%p
		var msg []byte
		if own != nil {
			msg = failureFrame(own)
		} else {
			msg = frame(header{alg: byte(algPairwise), rank: uint32(me)}, enc[dest])
		}
		got, err := c.Sendrecv(msg, dest, alltoallTag, src, alltoallTag)
		if err != nil {
			return err
		}
		_, body, rf := readFrame(me, got)
		if rf != nil {
			f = firstFailure(f, rf)
			continue
		}
		if f != nil {
			continue
		}
		if err := take(src, body); err != nil {
			f = localFailure(me, err)
		}
	}
	if f != nil {
		return f.err()
	}
	return nil
}
