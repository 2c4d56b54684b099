package collectives

import (
	"fmt"
)

// partial is a reduction operand in flight: the combined value of the
// contiguous ranks starting at low, or the failure that replaced it.
type partial[T any] struct {
	v     T
	owned bool // v's memory belongs to the call, not to the caller's input
	count int  // slice length, checked between ranks (0 for single values)
	low   int  // lowest rank whose operand v includes
	alg   algorithm
	fail  *failure
}

// combiner applies a reduction operator to two partials' values.
type combiner[T any] interface {
	count(v T) int
	// combine returns lower op upper; it may overwrite an operand whose
	// memory is owned, and never one that is not.
	combine(lower, upper T, lowerOwned, upperOwned bool) T
}

// valueOp applies a user operator to whole values.
type valueOp[T any] struct{ fn func(a, b T) T }

func (valueOp[T]) count(T) int { return 0 }
func (o valueOp[T]) combine(lower, upper T, _, _ bool) T {
	return o.fn(lower, upper)
}

// sliceOp applies a user operator element by element; lengths are checked
// before it runs.
type sliceOp[E any] struct{ fn func(a, b E) E }

func (sliceOp[E]) count(v []E) int { return len(v) }
func (o sliceOp[E]) combine(lower, upper []E, lowerOwned, upperOwned bool) []E {
	var dst []E
	switch {
	case upperOwned:
		dst = upper
	case lowerOwned:
		dst = lower
	default:
		dst = make([]E, len(lower))
	}
	for i := range dst {
		dst[i] = o.fn(lower[i], upper[i])
	}
	return dst
}

// reduction encodes, decodes and merges partials. With a nil codec it moves
// headers only (lengths, algorithm, failures): the agreement round that
// precedes a ring allreduce.
type reduction[T any] struct {
	me    int
	codec Codec[T]
	comb  combiner[T]
	sig   Signature // the call, to describe a mismatch of lengths
}

// encode returns p's message. When encoding fails, p becomes this rank's
// failure and the message says so.
func (r reduction[T]) encode(p *partial[T]) []byte {
	if p.fail != nil {
		return failureFrame(p.fail)
	}
	h := header{alg: byte(p.alg), rank: uint32(p.low), count: uint64(p.count)}
	if r.codec == nil {
		h.flags = flagNoData
		return frame(h, nil)
	}
	body, err := r.codec.Encode(p.v)
	if err != nil {
		p.fail = localFailure(r.me, fmt.Errorf("encoding the operand of rank %d: %w", r.me, err))
		return failureFrame(p.fail)
	}
	return frame(h, body)
}

// decode turns a received message into a partial; anything wrong with it
// becomes this rank's failure.
func (r reduction[T]) decode(payload []byte) partial[T] {
	h, body, f := readFrame(r.me, payload)
	if f != nil {
		return partial[T]{fail: f}
	}
	p := partial[T]{owned: true, count: int(h.count), low: int(h.rank), alg: algorithm(h.alg)}
	if r.codec == nil || h.flags&flagNoData != 0 {
		// Without data a partial can only be merged with another without
		// data; ranks that chose differently fail in merge, by count or alg.
		return p
	}
	v, err := r.codec.Decode(body)
	if err != nil {
		return partial[T]{fail: localFailure(r.me, failf(ErrProtocol, "decoding the operand of ranks from %d: %w", p.low, err))}
	}
	if n := r.comb.count(v); n != p.count {
		return partial[T]{fail: localFailure(r.me, failf(ErrProtocol, "%d elements announced, %d decoded", p.count, n))}
	}
	p.v = v
	return p
}

// merge combines two adjacent partials, lower ranks on the left.
func (r reduction[T]) merge(lower, upper partial[T]) partial[T] {
	if f := firstFailure(lower.fail, upper.fail); f != nil {
		return partial[T]{fail: f}
	}
	if lower.count != upper.count {
		ls, us := r.sig, r.sig
		ls.Count, us.Count = lower.count, upper.count
		return partial[T]{fail: localFailure(r.me, Mismatch(lower.low, ls, upper.low, us))}
	}
	if lower.alg != upper.alg {
		return partial[T]{fail: localFailure(r.me, failf(ErrAlgorithm, "rank %d chose %s, rank %d chose %s (is GORUN_COLL_* the same everywhere?)", lower.low, lower.alg, upper.low, upper.alg))}
	}
	out := partial[T]{count: lower.count, low: min(lower.low, upper.low), alg: lower.alg}
	if r.codec != nil {
		out.v = r.comb.combine(lower.v, upper.v, lower.owned, upper.owned)
		out.owned = true
	}
	return out
}

// exchangeOps adapts a reduction to the recursive doubling pattern.
func (r reduction[T]) exchangeOps() exchangeOps[partial[T]] {
	return exchangeOps[partial[T]]{encode: r.encode, decode: r.decode, merge: r.merge}
}

// nilOpFailure is the failure of a rank called with a nil operator.
func nilOpFailure(me int, coll string) *failure {
	return localFailure(me, failf(ErrNilOp, "%s needs an operator", coll))
}
