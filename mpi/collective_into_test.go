package mpi

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHierInto: GatherInto, AllgatherInto and AlltoallInto on
// communicators with a hierarchy (ranks on several hosts: the gathers run
// in the hierarchy's phases, then copy into out), at seeded random
// placements, lengths and roots; an out of the wrong length fails its rank
// with ErrLengthMismatch and leaves the world usable.
func TestHierInto(t *testing.T) {
	seed := rand.Uint64() % 1_000_000
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 17))
	for range 4 {
		np := 3 + rng.IntN(4)
		placement := randomPlacement(rng, np)
		n := rng.IntN(2000)
		root := rng.IntN(np)
		t.Run(fmt.Sprintf("np=%d/placement=%v/n=%d/root=%d", np, placement, n, root), func(t *testing.T) {
			runRanks(t, np, func(world *Comm) error {
				if world.hierarchy() == nil {
					return fmt.Errorf("no hierarchy for placement %v", placement)
				}
				me := world.Rank()
				block := func(src, dest int) []int32 {
					v := make([]int32, n)
					for i := range v {
						v[i] = int32(src*100_000 + dest*1000 + i)
					}
					return v
				}
				var want []int32
				for q := range np {
					want = append(want, block(q, -1)...)
				}
				out := make([]int32, np*n)
				if err := GatherInto(world, block(me, -1), out, root); err != nil {
					return fmt.Errorf("GatherInto: %w", err)
				}
				if me == root && !slices.Equal(out, want) {
					return fmt.Errorf("GatherInto: wrong result")
				}
				clear(out)
				if err := AllgatherInto(world, block(me, -1), out); err != nil || !slices.Equal(out, want) {
					return fmt.Errorf("AllgatherInto: %v (equal: %v)", err, slices.Equal(out, want))
				}
				var send, wantRecv []int32
				for q := range np {
					send = append(send, block(me, q)...)
					wantRecv = append(wantRecv, block(q, me)...)
				}
				recv := make([]int32, len(send))
				if err := AlltoallInto(world, send, recv); err != nil || !slices.Equal(recv, wantRecv) {
					return fmt.Errorf("AlltoallInto: %v (equal: %v)", err, slices.Equal(recv, wantRecv))
				}
				short := out[:max(len(out)-1, 0)]
				err := AllgatherInto(world, block(me, -1), short)
				if len(out) > 0 && !errors.Is(err, ErrLengthMismatch) {
					return fmt.Errorf("AllgatherInto into a short out: got %v, want ErrLengthMismatch", err)
				}
				if err := AllgatherInto(world, block(me, -1), out); err != nil || !slices.Equal(out, want) {
					return fmt.Errorf("AllgatherInto after the error: %v", err)
				}
				return nil
			}, withPlacement(placement))
		})
	}
}
