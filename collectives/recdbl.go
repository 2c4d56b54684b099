package collectives

// exchangeOps tells the recursive doubling pattern how to move and combine
// a state S that stands for a contiguous block of ranks.
type exchangeOps[S any] struct {
	encode func(*S) []byte
	decode func([]byte) S
	merge  func(lower, upper S) S
}

// Tags of the recursive doubling pattern, relative to its base tag.
const (
	rdTagFoldIn  = 0
	rdTagFoldOut = 1
	rdTagStep    = 2 // + step number
	rdTagSpan    = 64
)

// recursiveDoubling combines every rank's state so that each rank ends with
// merge(...merge(s0, s1)..., s(p-1)): at step k each rank exchanges its
// state with the rank whose new rank differs in bit k and merges, the lower
// block on the left. Both partners merge the same two inputs in the same
// order, so every rank gets a bit-identical result. Groups whose size is not
// a power of two are folded first (see fold). The error is a communication
// error; failures travel inside the states.
func recursiveDoubling[S any](c Conn, tag int, mine S, ops exchangeOps[S]) (S, error) {
	p, me := c.Size(), c.Rank()
	var zero S
	if p == 1 {
		return mine, nil
	}
	f := newFold(p)
	if f.sitsOut(me) {
		if err := c.Send(ops.encode(&mine), me+1, tag+rdTagFoldIn); err != nil {
			return zero, err
		}
		got, err := c.Recv(me+1, tag+rdTagFoldOut)
		if err != nil {
			return zero, err
		}
		return ops.decode(got), nil
	}
	if f.folded(me) {
		got, err := c.Recv(me-1, tag+rdTagFoldIn)
		if err != nil {
			return zero, err
		}
		mine = ops.merge(ops.decode(got), mine)
	}
	nr := f.newRank(me)
	for step, mask := 0, 1; mask < f.pof2; step, mask = step+1, mask<<1 {
		partner := f.oldRank(nr ^ mask)
		got, err := c.Sendrecv(ops.encode(&mine), partner, tag+rdTagStep+step, partner, tag+rdTagStep+step)
		if err != nil {
			return zero, err
		}
		if partner < me {
			mine = ops.merge(ops.decode(got), mine)
		} else {
			mine = ops.merge(mine, ops.decode(got))
		}
	}
	if f.folded(me) {
		if err := c.Send(ops.encode(&mine), me-1, tag+rdTagFoldOut); err != nil {
			return zero, err
		}
	}
	return mine, nil
}
