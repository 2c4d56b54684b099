package collectives

import (
	"fmt"
	"slices"
	"unsafe"
)

// SharedConn is an optional ability of a Conn: an Arena every rank of the
// group maps (ranks on one host). Arena returns nil when there is none.
type SharedConn interface {
	Arena() *Arena
}

// arenaOf returns c's arena when it can serve this call: the same group,
// and no earlier failure left its counters out of step.
func arenaOf(c Conn) *Arena {
	sc, ok := c.(SharedConn)
	if !ok {
		return nil
	}
	a := sc.Arena()
	if a == nil || a.size != c.Size() || a.rank != c.Rank() {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.broken != nil {
		return nil
	}
	return a
}

// shmAllreduce is AllreduceSlice through shared memory, for slices of
// fixed-size numbers already known to have the same length everywhere.
// The vector is cut into segments that fit a rank's slot; for each one,
// every rank copies its operand into its slot (all but its own share),
// waits for the others, and reduces its share of the segment (partBounds)
// from the p operands, in rank order, into the result area; once every
// share is there, each rank copies the whole result out. Each element is
// reduced by one rank, lower ranks on the left, so any operator works and
// every rank gets the same bits.
//
// Against the ring (2(p-1) messages, each a rendezvous and a copy by the
// kernel, and a result that must be zeroed first) it moves each byte with
// plain loads and stores and sleeps at most twice per segment. It reduces
// in blocks that stay in the cache: all p operands of a block, then the
// next block.
func shmAllreduce[E any](a *Arena, v []E, op Op[E]) ([]E, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out, err := shmAllreduceLocked(a, v, op)
	if err != nil {
		a.broken = err
		return nil, fmt.Errorf("allreduce in shared memory: %w", err)
	}
	return out, nil
}

func shmAllreduceLocked[E any](a *Arena, v []E, op Op[E]) ([]E, error) {
	p, me := a.size, a.rank
	n := len(v)
	if n == 0 {
		return make([]E, 0), nil
	}
	es := int(unsafe.Sizeof(*new(E)))
	segLen := a.slotBytes / es
	segments := (n + segLen - 1) / segLen
	// whole: the result area holds the whole result, copied out at the end
	// in one pass into a slice that needs no zeroing first (slices.Clone).
	// Otherwise each segment's result is copied out before the next.
	whole := n*es <= a.resultBytes
	var out []E
	if !whole {
		out = make([]E, n)
	}
	slot := func(q int) []E {
		return unsafe.Slice((*E)(unsafe.Pointer(&a.mem[a.slots+q*a.slotBytes])), segLen)
	}
	result := func(from, count int) []E {
		return unsafe.Slice((*E)(unsafe.Pointer(&a.mem[a.result+from*es])), count)
	}
	kernel := op.Kernel
	if kernel == nil {
		kernel = func(dst, x, y []E) {
			for i := range dst {
				dst[i] = op.Fn(x[i], y[i])
			}
		}
	}
	block := max(reduceBlockBytes/es, 1)

	for k := range segments {
		step := a.steps + uint32(k)
		if k > 0 && whole {
			// Every rank must be done reading our slot's last segment.
			if err := a.waitAll(reducedKind, step); err != nil {
				return nil, err
			}
		}
		lo, hi := k*segLen, min(n, (k+1)*segLen)
		count := hi - lo
		mlo, mhi := partBounds(count, p, me) // our share: read from v, not copied in
		mine := slot(me)
		copy(mine[:mlo], v[lo:lo+mlo])
		copy(mine[mhi:count], v[lo+mhi:hi])
		a.post(arrivedKind, step+1)
		if err := a.waitAll(arrivedKind, step+1); err != nil {
			return nil, err
		}

		at := mlo
		if whole {
			at += lo
		}
		dst := result(at, mhi-mlo)
		operand := func(q, b, e int) []E {
			if q == me {
				return v[lo+mlo+b : lo+mlo+e]
			}
			return slot(q)[mlo+b : mlo+e]
		}
		for b := 0; b < len(dst); b += block {
			e := min(len(dst), b+block)
			kernel(dst[b:e], operand(0, b, e), operand(1, b, e))
			for q := 2; q < p; q++ {
				kernel(dst[b:e], dst[b:e], operand(q, b, e))
			}
		}
		a.post(reducedKind, step+1)

		if !whole {
			if err := a.waitAll(reducedKind, step+1); err != nil {
				return nil, err
			}
			// The next segment's shares are written only after every rank
			// has posted its operand for it, hence after this copy.
			copy(out[lo:hi], result(0, count))
		}
	}
	a.steps += uint32(segments)
	if whole {
		if err := a.waitAll(reducedKind, a.steps); err != nil {
			return nil, err
		}
		out = slices.Clone(result(0, n))
	}
	return out, nil
}

// reduceBlockBytes is the block the reduction finishes before moving on:
// small enough that the partial result stays in the first-level cache
// while the p operands are folded into it.
const reduceBlockBytes = 16 << 10
