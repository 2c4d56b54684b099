package mpi

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"unsafe"

	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// withHostMemory gives every rank of a world over a transport (with a
// placement over several hosts) its host's shared memory, one zeroed,
// page-aligned buffer per host that the ranks of this process share, as
// gorun's memfd is shared by the ranks of a host.
func withHostMemory() Option {
	var mu sync.Mutex
	hosts := map[int][]byte{}
	memory := func(host, bytes int) []byte {
		mu.Lock()
		defer mu.Unlock()
		if m, ok := hosts[host]; ok {
			return m
		}
		hosts[host] = alignedMemory(bytes)
		return hosts[host]
	}
	return func(c *config) { c.hostMemory = memory }
}

// alignedMemory is bytes of zeroed memory aligned as shared memory is.
func alignedMemory(bytes int) []byte {
	buf := make([]byte, bytes+shmcoll.Align)
	skip := (shmcoll.Align - int(uintptr(unsafe.Pointer(&buf[0]))%shmcoll.Align)) % shmcoll.Align
	return buf[skip : skip+bytes]
}

// TestHierCollectivesHostMemory runs TestHierCollectives' checks on seeded
// random placements with each host's shared memory: the world's phases on
// a host go through it (each rank checks that its world has it and the
// hierarchical calls find it), a Dup and a Split use messages; results in
// rank order for non-commutative operators, sums exact.
func TestHierCollectivesHostMemory(t *testing.T) {
	random := rand.Uint64() % 1_000_000
	t.Logf("random seed %d", random)
	for _, seed := range []uint64{4, 5, random} {
		rng := rand.New(rand.NewPCG(seed, 17))
		for range 3 {
			np := 3 + rng.IntN(6)
			placement := randomPlacement(rng, np)
			t.Run(fmt.Sprintf("seed=%d/np=%d/placement=%v", seed, np, placement), func(t *testing.T) {
				runRanks(t, np, func(world *Comm) error {
					h := world.hierarchy()
					if h == nil {
						return fmt.Errorf("no hierarchy for placement %v", placement)
					}
					k := &collConn{c: world}
					if shared := h.shared(k, phaseUp); (shared != nil) != (len(h.hosts[h.host[world.Rank()]]) > 1) {
						return fmt.Errorf("host memory lent: %v, with %d ranks on this host", shared != nil, len(h.hosts[h.host[world.Rank()]]))
					}
					if err := checkHierCalls(world, seed); err != nil {
						return fmt.Errorf("world: %w", err)
					}
					if err := sendsNothingOnHost(world, h); err != nil {
						return err
					}
					if err := checkOrderedNumbers(world); err != nil {
						return err
					}
					dup, err := world.Dup()
					if err != nil {
						return err
					}
					if h.shared(&collConn{c: dup}, phaseUp) != nil {
						return fmt.Errorf("a Dup was lent the host's memory")
					}
					if err := checkHierCalls(dup, seed+1); err != nil {
						return fmt.Errorf("dup: %w", err)
					}
					if err := checkHierCalls(world, seed+2); err != nil {
						return fmt.Errorf("world again: %w", err)
					}
					return nil
				}, withPlacement(placement), withHostMemory())
			})
		}
	}
}

// sendsNothingOnHost runs the collectives whose phases on a host go
// through its memory and checks that this rank sent no frame to a rank of
// its host meanwhile.
func sendsNothingOnHost(world *Comm, h *hierarchy) error {
	if err := world.Barrier(); err != nil {
		return err
	}
	e := world.e
	before := make([]uint64, len(e.sent))
	for r := range before {
		before[r] = e.sent[r].Load()
	}
	me := world.Rank()
	v := make([]float64, 5000)
	for i := range v {
		v[i] = float64(me*i) / 3
	}
	for i := range 5 {
		if _, err := AllreduceSlice(world, v, Sum[float64]); err != nil {
			return err
		}
		if _, err := Allreduce(world, me, Sum[int]); err != nil {
			return err
		}
		if _, err := Bcast(world, v[:100+i], i%world.Size()); err != nil {
			return err
		}
		if _, err := ReduceSlice(world, v, Max[float64], (i+1)%world.Size()); err != nil {
			return err
		}
		if err := world.Barrier(); err != nil {
			return err
		}
	}
	for _, r := range h.hosts[h.host[me]] {
		if n := e.sent[r].Load() - before[r]; n != 0 && r != me {
			return fmt.Errorf("sent %d frames to rank %d, of this host, in collectives whose phases on a host go through its memory", n, r)
		}
	}
	return nil
}

// checkOrderedNumbers reduces numbers with an associative, non-commutative
// operator (composition of affine maps t -> a*t + b modulo 2^32, a and b
// packed in a uint64), which the phases on a host fold in their shared
// memory, and compares with the fold in rank order.
func checkOrderedNumbers(world *Comm) error {
	p, me := world.Size(), world.Rank()
	op := func(x, y uint64) uint64 {
		a1, b1, a2, b2 := uint32(x>>32), uint32(x), uint32(y>>32), uint32(y)
		return uint64(a1*a2)<<32 | uint64(a2*b1+b2)
	}
	val := func(r, i int) uint64 { return uint64(2*r+3+i)<<32 | uint64(r*7919+i) }
	const n = 3000
	v := make([]uint64, n)
	want := make([]uint64, n)
	for i := range v {
		v[i] = val(me, i)
		want[i] = val(0, i)
		for r := 1; r < p; r++ {
			want[i] = op(want[i], val(r, i))
		}
	}
	got, err := Allreduce(world, v[5], op)
	if err != nil || got != want[5] {
		return fmt.Errorf("Allreduce(affine maps) = %#x, %v; want %#x", got, err, want[5])
	}
	slice, err := AllreduceSlice(world, v, op)
	if err != nil || !slices.Equal(slice, want) {
		return fmt.Errorf("AllreduceSlice(affine maps): %v, equal %v", err, slices.Equal(slice, want))
	}
	root := p - 1
	red, err := ReduceSlice(world, v, op, root)
	if err != nil || (me == root && !slices.Equal(red, want)) {
		return fmt.Errorf("ReduceSlice(affine maps, root %d): %v", root, err)
	}
	return nil
}
