package collectives

import (
	"slices"
)

// Tags of Reduce and ReduceSlice.
const (
	reduceTagUp    = 0 // child to parent in the tree
	reduceTagFinal = 1 // rank 0 to the root, for non-commutative operators
)

// Reduce combines every rank's v with op, in rank order, and returns
// v0 op v1 op ... op v(p-1) on root and the zero value elsewhere. It uses a
// binomial tree. A commutative operator is reduced straight to the root; any
// other is reduced to rank 0, where rank order is the tree's order, and sent
// on to the root. A failure (a nil operator, say) on any rank reaches the
// root as an error; ranks between it and the root report it too, while
// ranks that only sent their operand cannot know of it.
func Reduce[T any](c Conn, codec Codec[T], v T, op Op[T], root int) (T, error) {
	var zero T
	red := reduction[T]{me: c.Rank(), codec: codec, comb: valueOp[T]{op.Fn},
		sig: Signature{Call: Call{Kind: KindReduce}, Root: root, Elem: ElemOf[T](), Count: -1}}
	res, err := reduceTree(c, red, v, op.Fn == nil, op.Commutative, root, "Reduce")
	switch {
	case err != nil:
		return zero, err
	case res.fail != nil:
		return zero, res.fail.err()
	case c.Rank() != root:
		return zero, nil
	}
	return res.v, nil
}

// ReduceSlice combines the ranks' slices element by element with op, as
// Reduce does, and returns the result on root (nil elsewhere). Slices of
// different lengths give an error wrapping ErrLengthMismatch on the root
// and on every rank that received a mismatched operand. The result never
// aliases v.
func ReduceSlice[E any](c Conn, codec Codec[[]E], v []E, op Op[E], root int) ([]E, error) {
	red := reduction[[]E]{me: c.Rank(), codec: codec, comb: sliceOp[E]{op.Fn},
		sig: Signature{Call: Call{Kind: KindReduceSlice}, Root: root, Elem: ElemOf[E](), Count: len(v)}}
	res, err := reduceTree(c, red, v, op.Fn == nil, op.Commutative, root, "ReduceSlice")
	switch {
	case err != nil:
		return nil, err
	case res.fail != nil:
		return nil, res.fail.err()
	case c.Rank() != root:
		return nil, nil
	case !res.owned:
		return slices.Clone(res.v), nil
	}
	return res.v, nil
}

// reduceTree runs the binomial reduction and returns, on the root, the
// combined partial; elsewhere the partial this rank sent (to report its
// failure, if any).
func reduceTree[T any](c Conn, red reduction[T], v T, nilOp, commutative bool, root int, name string) (partial[T], error) {
	p, me := c.Size(), c.Rank()
	if err := checkRoot(c, root); err != nil {
		return partial[T]{}, err
	}
	if _, err := choose("Reduce", p, 0); err != nil {
		return partial[T]{}, err
	}
	var err error
	if red.sig, err = begin(c, red.sig); err != nil {
		return partial[T]{}, err
	}
	mine := partial[T]{v: v, count: red.comb.count(v), low: me, alg: algBinomial}
	if nilOp {
		mine.fail = nilOpFailure(me, name)
	}
	treeRoot := root
	if !commutative {
		treeRoot = 0
	}
	vr := toVirtual(me, treeRoot, p)
	for mask := 1; mask < p; mask <<= 1 {
		if vr&mask != 0 {
			parent := fromVirtual(vr-mask, treeRoot, p)
			if err := c.Send(red.encode(&mine), parent, reduceTagUp); err != nil {
				return partial[T]{}, err
			}
			break
		}
		if vr+mask < p {
			got, err := c.Recv(fromVirtual(vr+mask, treeRoot, p), reduceTagUp)
			if err != nil {
				return partial[T]{}, err
			}
			mine = red.merge(mine, red.decode(got))
		}
	}
	if treeRoot != root {
		switch me {
		case treeRoot:
			if err := c.Send(red.encode(&mine), root, reduceTagFinal); err != nil {
				return partial[T]{}, err
			}
		case root:
			got, err := c.Recv(treeRoot, reduceTagFinal)
			if err != nil {
				return partial[T]{}, err
			}
			own := mine.fail
			mine = red.decode(got)
			mine.fail = prefer(mine.fail, own)
		}
	}
	return mine, nil
}
