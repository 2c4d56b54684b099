package mpi

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorun-mpi/gorun/internal/ranks"
)

// TestNewHierarchy: hosts ordered by their lowest rank, ranks ascending,
// blocks only when each host's ranks are consecutive, and no hierarchy
// where it would not pay.
func TestNewHierarchy(t *testing.T) {
	for _, tc := range []struct {
		placement, group []int
		hosts            [][]int
		blocks           bool
	}{
		{[]int{0, 0, 1, 1}, []int{0, 1, 2, 3}, [][]int{{0, 1}, {2, 3}}, true},
		{[]int{1, 1, 0, 0, 0}, []int{0, 1, 2, 3, 4}, [][]int{{0, 1}, {2, 3, 4}}, true},
		{[]int{0, 1, 0, 1}, []int{0, 1, 2, 3}, [][]int{{0, 2}, {1, 3}}, false},
		{[]int{0, 1, 0, 1, 2, 2}, []int{5, 4, 0, 2, 1}, [][]int{{0, 1}, {2, 3}, {4}}, true},
		{[]int{0, 0, 0}, []int{0, 1, 2}, nil, false},
		{[]int{0, 1, 2}, []int{0, 1, 2}, nil, false},
		{[]int{0, 1, 0, 1}, []int{0, 1}, nil, false},
		{nil, []int{0, 1}, nil, false},
	} {
		h := newHierarchy(tc.placement, tc.group)
		if tc.hosts == nil {
			if h != nil {
				t.Errorf("placement %v, group %v: hierarchy %+v, want none", tc.placement, tc.group, h)
			}
			continue
		}
		if h == nil || !slices.EqualFunc(h.hosts, tc.hosts, slices.Equal) || h.blocks != tc.blocks {
			t.Errorf("placement %v, group %v: %+v, want hosts %v blocks %v", tc.placement, tc.group, h, tc.hosts, tc.blocks)
		}
	}
}

// randomPlacement places np ranks on 2..4 hosts: in blocks of random sizes
// (every host holding at least one rank), or shuffled.
func randomPlacement(rng *rand.Rand, np int) []int {
	hosts := 2 + rng.IntN(min(3, np-2)) // fewer hosts than ranks
	p := make([]int, np)
	for r := range p {
		p[r] = r * hosts / np
	}
	if rng.IntN(2) == 0 {
		rng.Shuffle(np, func(i, j int) { p[i], p[j] = p[j], p[i] })
	}
	perm := rng.Perm(hosts) // host names need not follow rank order
	for r := range p {
		p[r] = perm[p[r]] + 10
	}
	return p
}

// concat is a non-commutative, associative operator.
func concat(a, b string) string { return a + b }

// matMul multiplies 2x2 integer matrices (non-commutative, associative,
// exact).
func matMul(a, b [4]int64) [4]int64 {
	return [4]int64{a[0]*b[0] + a[1]*b[2], a[0]*b[1] + a[1]*b[3], a[2]*b[0] + a[3]*b[2], a[2]*b[1] + a[3]*b[3]}
}

func rankMatrix(r int) [4]int64 { return [4]int64{1, int64(r + 1), int64(r % 3), 1} }

// TestHierCollectives runs the hierarchical collectives on seeded random
// placements (blocks and interleaved hosts), on the world, a Dup and a
// Split, and checks each result against a sequential reference: sums,
// and non-commutative operators (string concatenation, 2x2 matrix
// products) in rank order.
func TestHierCollectives(t *testing.T) {
	random := rand.Uint64() % 1_000_000
	t.Logf("random seed %d", random)
	for _, seed := range []uint64{1, 2, 3, random} {
		rng := rand.New(rand.NewPCG(seed, 16))
		for range 3 {
			np := 3 + rng.IntN(6)
			placement := randomPlacement(rng, np)
			t.Run(fmt.Sprintf("seed=%d/np=%d/placement=%v", seed, np, placement), func(t *testing.T) {
				runRanks(t, np, func(world *Comm) error {
					if world.hierarchy() == nil {
						return fmt.Errorf("no hierarchy for placement %v", placement)
					}
					if err := checkHierCalls(world, seed); err != nil {
						return fmt.Errorf("world: %w", err)
					}
					dup, err := world.Dup()
					if err != nil {
						return err
					}
					if err := checkHierCalls(dup, seed+1); err != nil {
						return fmt.Errorf("dup: %w", err)
					}
					sub, err := world.Split(world.Rank()%2, -world.Rank())
					if err != nil {
						return err
					}
					if err := checkHierCalls(sub, seed+2); err != nil {
						return fmt.Errorf("split (reversed ranks): %w", err)
					}
					return nil
				}, withPlacement(placement))
			})
		}
	}
}

// TestHierCollectivesPlaced runs the same checks over the Unix + NATS
// composite (peers of the same parity through Unix sockets), with the
// placement that composite stands for.
func TestHierCollectivesPlaced(t *testing.T) {
	for _, np := range []int{4, 5} {
		placement := make([]int, np)
		for r := range placement {
			placement[r] = r % 2
		}
		t.Run(fmt.Sprintf("np=%d", np), func(t *testing.T) {
			for r, err := range runOver(t, ranks.Placed, np, func(world *Comm) error {
				return checkHierCalls(world, 9)
			}, withPlacement(placement)) {
				if err != nil {
					t.Errorf("rank %d: %v", r, err)
				}
			}
		})
	}
}

// checkHierCalls runs each hierarchical collective on c with operands
// derived from seed and c's ranks, and compares with sequential references.
func checkHierCalls(c *Comm, seed uint64) error {
	p, me := c.Size(), c.Rank()
	rng := rand.New(rand.NewPCG(seed, uint64(p)))
	n := 1 + rng.IntN(3000)
	root := rng.IntN(p)
	vec := func(r int) []int64 {
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(r*1_000_003 + i*7)
		}
		return v
	}
	sum := make([]int64, n)
	cat := ""
	strs := func(r int) []string { return []string{fmt.Sprint(r, ","), fmt.Sprint("<", r)} }
	catSlice := []string{"", ""}
	prod := [4]int64{1, 0, 0, 1}
	for r := range p {
		for i, x := range vec(r) {
			sum[i] += x
		}
		cat += fmt.Sprint(r, ";")
		for i, s := range strs(r) {
			catSlice[i] += s
		}
		prod = matMul(prod, rankMatrix(r))
	}

	got, err := AllreduceSlice(c, vec(me), Sum[int64])
	if err != nil || !slices.Equal(got, sum) {
		return fmt.Errorf("AllreduceSlice: %v (equal: %v)", err, slices.Equal(got, sum))
	}
	out := vec(me)
	if err := AllreduceSliceInto(c, out, out, Sum[int64]); err != nil || !slices.Equal(out, sum) {
		return fmt.Errorf("AllreduceSliceInto in place: %v", err)
	}
	if s, err := Allreduce(c, fmt.Sprint(me, ";"), concat); err != nil || s != cat {
		return fmt.Errorf("Allreduce(concat) = %q, %v; want %q", s, err, cat)
	}
	if m, err := Allreduce(c, rankMatrix(me), matMul); err != nil || m != prod {
		return fmt.Errorf("Allreduce(matMul) = %v, %v; want %v", m, err, prod)
	}
	s, err := Reduce(c, fmt.Sprint(me, ";"), concat, root)
	if err != nil || (me == root && s != cat) || (me != root && s != "") {
		return fmt.Errorf("Reduce(concat, root %d) = %q, %v; want %q", root, s, err, cat)
	}
	ss, err := ReduceSlice(c, strs(me), concat, root)
	if err != nil || (me == root && !slices.Equal(ss, catSlice)) || (me != root && ss != nil) {
		return fmt.Errorf("ReduceSlice(concat, root %d) = %q, %v; want %q", root, ss, err, catSlice)
	}
	rs, err := ReduceSlice(c, vec(me), Sum[int64], root)
	if err != nil || (me == root && !slices.Equal(rs, sum)) {
		return fmt.Errorf("ReduceSlice(Sum, root %d): %v", root, err)
	}
	b, err := Bcast(c, strings.Repeat(fmt.Sprint(me), me+1), root)
	if want := strings.Repeat(fmt.Sprint(root), root+1); err != nil || b != want {
		return fmt.Errorf("Bcast(root %d) = %q, %v; want %q", root, b, err, want)
	}
	bv, err := Bcast(c, vec(me), root)
	if err != nil || !slices.Equal(bv, vec(root)) {
		return fmt.Errorf("Bcast of a slice (root %d): %v", root, err)
	}
	if err := c.Barrier(); err != nil {
		return fmt.Errorf("Barrier: %w", err)
	}
	var joined []int64
	for r := range p {
		joined = append(joined, vec(r)[:min(r%4, n)]...)
	}
	ag, err := Allgather(c, vec(me)[:min(me%4, n)])
	if err != nil || !slices.Equal(ag, joined) {
		return fmt.Errorf("Allgather = %v, %v; want %v", ag, err, joined)
	}
	g, err := Gather(c, vec(me)[:min(me%4, n)], root)
	if err != nil || (me == root && !slices.Equal(g, joined)) || (me != root && g != nil) {
		return fmt.Errorf("Gather(root %d) = %v, %v; want %v", root, g, err, joined)
	}
	gs, err := Allgather(c, strs(me))
	if want := slices.Concat(func() [][]string {
		var all [][]string
		for r := range p {
			all = append(all, strs(r))
		}
		return all
	}()...); err != nil || !slices.Equal(gs, want) {
		return fmt.Errorf("Allgather of strings = %q, %v; want %q", gs, err, want)
	}
	return nil
}

// TestHierBarrierWaitsForAll: no rank leaves a hierarchical Barrier
// before the last has entered (each rank counts its entry, then checks
// after the barrier that every rank has).
func TestHierBarrierWaitsForAll(t *testing.T) {
	const np, rounds = 6, 20
	var mu sync.Mutex
	var entered []int // per round: the ranks that entered
	runPlaced(t, np, []int{0, 1, 0, 1, 1, 0}, func(c *Comm) error {
		mu.Lock()
		if entered == nil || entered[rounds-1] == np { // a new run
			entered = make([]int, rounds)
		}
		mu.Unlock()
		for i := range rounds {
			mu.Lock()
			entered[i]++
			mu.Unlock()
			if err := c.Barrier(); err != nil {
				return err
			}
			mu.Lock()
			n := entered[i]
			mu.Unlock()
			if n != np {
				return fmt.Errorf("round %d: left the barrier with %d of %d ranks entered", i, n, np)
			}
		}
		return nil
	})
}

// TestHierAllreduceSliceLengths: slices of different lengths fail the
// call on every rank with ErrLengthMismatch (and ErrCollectiveMismatch), a
// bad out with ErrLengthMismatch, and the communicator stays usable.
func TestHierAllreduceSliceLengths(t *testing.T) {
	const np = 5
	runPlaced(t, np, []int{0, 0, 1, 1, 1}, func(c *Comm) error {
		v := make([]float64, 10)
		if c.Rank() == 3 {
			v = make([]float64, 11)
		}
		_, err := AllreduceSlice(c, v, Sum[float64])
		if !errors.Is(err, ErrLengthMismatch) || !errors.Is(err, ErrCollectiveMismatch) {
			return fmt.Errorf("lengths 10 and 11: %v, want ErrLengthMismatch and ErrCollectiveMismatch", err)
		}
		out := make([]float64, 10)
		if c.Rank() == 1 {
			out = out[:9]
		}
		err = AllreduceSliceInto(c, make([]float64, 10), out, Sum[float64])
		if !errors.Is(err, ErrLengthMismatch) {
			return fmt.Errorf("a short out on rank 1: %v, want ErrLengthMismatch", err)
		}
		got, err := Allreduce(c, c.Rank(), Sum[int])
		return expect(err == nil && got == np*(np-1)/2, "Allreduce after: %d, %v", got, err)
	})
}

// TestHierReduceSliceLengthMismatch: a ReduceSlice with another length on
// one rank is a mismatch on every rank (its messages carry the length),
// nobody hangs.
func TestHierReduceSliceLengthMismatch(t *testing.T) {
	const np = 6
	runPlaced(t, np, []int{0, 0, 0, 1, 1, 1}, func(c *Comm) error {
		v := make([]int, 4)
		if c.Rank() == 4 {
			v = make([]int, 5)
		}
		_, err := ReduceSlice(c, v, Sum[int], 0)
		if err == nil {
			// A rank that only sent learns in its next call.
			err = c.Barrier()
		}
		return expect(errors.Is(err, ErrCollectiveMismatch), "ReduceSlice with one length 5: %v, want ErrCollectiveMismatch", err)
	})
}

// TestHierNilOperator: a nil operator fails the call on every rank (the
// call runs flat) and the communicator stays usable.
func TestHierNilOperator(t *testing.T) {
	const np = 4
	runPlaced(t, np, []int{0, 0, 1, 1}, func(c *Comm) error {
		if _, err := Reduce[int](c, 1, nil, 0); err == nil {
			return errors.New("Reduce with a nil operator: no error")
		}
		if _, err := AllreduceSlice[int](c, []int{1}, nil); err == nil {
			return errors.New("AllreduceSlice with a nil operator: no error")
		}
		got, err := Allreduce(c, 1, Sum[int])
		return expect(err == nil && got == np, "Allreduce after: %d, %v", got, err)
	})
}

// runPlaced runs body on np ranks placed on hosts by placement twice: the
// phases on a host by messages, then through each host's shared memory
// (withHostMemory).
func runPlaced(t *testing.T, np int, placement []int, body func(c *Comm) error) {
	t.Helper()
	t.Run("messages", func(t *testing.T) { runRanks(t, np, body, withPlacement(placement)) })
	t.Run("host memory", func(t *testing.T) { runRanks(t, np, body, withPlacement(placement), withHostMemory()) })
}
