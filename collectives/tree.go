package collectives

// Topology helpers shared by the algorithms.

// Binomial trees are built over virtual ranks 0..p-1 with the root at 0
// (v = (rank - root) mod p). The parent of v clears v's lowest set bit; the
// children of v are v+m for the powers of two m below v's lowest set bit
// (below the first power of two >= p for the root), so v's subtree is the
// contiguous range [v, v+subtreeSize(v, p)).

func toVirtual(rank, root, p int) int { return (rank - root + p) % p }
func fromVirtual(v, root, p int) int  { return (v + root) % p }
func binomialParent(v int) int        { return v & (v - 1) }
func lowBit(v int) int                { return v & -v }
func ceilPow2(p int) int {
	n := 1
	for n < p {
		n <<= 1
	}
	return n
}
func floorPow2(p int) int {
	n := 1
	for n*2 <= p {
		n <<= 1
	}
	return n
}
func subtreeSpan(v, p int) int {
	if v == 0 {
		return ceilPow2(p)
	}
	return lowBit(v)
}

// subtreeSize is the number of virtual ranks in v's subtree.
func subtreeSize(v, p int) int { return min(subtreeSpan(v, p), p-v) }

// binomialChildren returns v's children, the largest subtree first (the
// order a broadcast serves them in).
func binomialChildren(v, p int) []int {
	var kids []int
	for m := subtreeSpan(v, p) / 2; m >= 1; m /= 2 {
		if v+m < p {
			kids = append(kids, v+m)
		}
	}
	return kids
}

// fold maps a group of any size onto a power of two, as MPICH does for
// recursive doubling: among the first 2*rem ranks (rem = p - pof2), each even
// rank hands its data to the odd rank after it and sits the exchange out,
// getting the result back at the end. Ranks keep their order: new rank i
// stands for a contiguous block of old ranks, so operands stay in rank order.
type fold struct {
	p, pof2, rem int
}

func newFold(p int) fold {
	pof2 := floorPow2(p)
	return fold{p: p, pof2: pof2, rem: p - pof2}
}

// sitsOut reports whether rank gives its data away and waits for the result.
func (f fold) sitsOut(rank int) bool { return rank < 2*f.rem && rank%2 == 0 }

// folded reports whether rank receives a sitting-out rank's data (rank-1).
func (f fold) folded(rank int) bool { return rank < 2*f.rem && rank%2 == 1 }

// newRank is rank's index among the pof2 ranks of the exchange; call it
// only for ranks that do not sit out.
func (f fold) newRank(rank int) int {
	if rank < 2*f.rem {
		return rank / 2
	}
	return rank - f.rem
}

// oldRank is the inverse of newRank.
func (f fold) oldRank(newRank int) int {
	if newRank < f.rem {
		return 2*newRank + 1
	}
	return newRank + f.rem
}

// blockLow is the lowest old rank that new rank n stands for.
func (f fold) blockLow(n int) int {
	if n < f.rem {
		return 2 * n
	}
	return n + f.rem
}

// PartBounds returns the bounds [lo, hi) of part i when n items are cut
// into parts contiguous parts whose lengths differ by at most one, the longer
// parts first: the layout of Scatter, and of the chunks the algorithms use.
func PartBounds(n, parts, i int) (lo, hi int) { return partBounds(n, parts, i) }

func partBounds(n, parts, i int) (lo, hi int) {
	q, r := n/parts, n%parts
	lo = i*q + min(i, r)
	hi = lo + q
	if i < r {
		hi++
	}
	return lo, hi
}
