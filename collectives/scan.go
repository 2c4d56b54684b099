package collectives

import "slices"

// Scan returns, on rank i, the inclusive prefix v0 op v1 op ... op vi. It
// uses the recursive doubling scan (as MPICH does): at step k each rank
// exchanges with the rank differing in bit k the combined operand of its
// aligned block of 2^k ranks; a rank folds what comes from below into both
// its block's operand and its prefix, the lower ranks on the left, so any
// associative operator works. A failure on rank i (a nil operator, say)
// makes the call fail on rank i, on every later rank (whose prefix needs
// rank i's operand) and on the earlier ranks that exchanged with it.
func Scan[T any](c Conn, codec Codec[T], v T, op Op[T]) (T, error) {
	var zero T
	p, me := c.Size(), c.Rank()
	if _, err := choose("Scan", p, 0); err != nil {
		return zero, err
	}
	sig, err := begin(c, Signature{Call: Call{Kind: KindScan}, Root: -1, Elem: ElemOf[T](), Count: -1})
	if err != nil {
		return zero, err
	}
	red := reduction[T]{me: me, codec: codec, comb: valueOp[T]{op.Fn}, sig: sig}
	block := partial[T]{v: v, low: me, alg: algRecursiveDoubling}
	if op.Fn == nil {
		block.fail = nilOpFailure(me, "Scan")
	}
	prefix := block
	for step, mask := 0, 1; mask < p; step, mask = step+1, mask<<1 {
		partner := me ^ mask
		if partner >= p {
			continue
		}
		got, err := c.Sendrecv(red.encode(&block), partner, step, partner, step)
		if err != nil {
			return zero, err
		}
		if partner > me {
			block = red.merge(block, red.decode(got))
			continue
		}
		// Decode twice: an operator may modify its left operand in place.
		block = red.merge(red.decode(got), block)
		prefix = red.merge(red.decode(slices.Clone(got)), prefix)
	}
	if f := firstFailure(block.fail, prefix.fail); f != nil {
		return zero, f.err()
	}
	return prefix.v, nil
}
