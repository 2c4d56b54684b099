package mpi_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gorun-mpi/gorun/internal/ordertest"
	"github.com/gorun-mpi/gorun/mpi"
	"github.com/gorun-mpi/gorun/mpi/mpitest"
)

// TestOrderOverComposite runs internal/ordertest's seeded plan on ranks in
// this process over composites (mpitest.Composite: two in-memory networks,
// the twin of the Unix + NATS composite gorun builds from a placement:
// rank r's peers on the same pretend host, r%2, through one network, the
// others through the other; and mpitest.Placed, that very Unix + NATS
// composite). Matching order and content hold whichever network carries a
// pair.
func TestOrderOverComposite(t *testing.T) {
	random := rand.Uint64() % 1_000_000
	t.Logf("random seed %d", random)
	for _, network := range []mpitest.Network{mpitest.Composite, mpitest.Placed} {
		for _, np := range []int{2, 3, 5} {
			for _, seed := range []uint64{7, random} {
				t.Run(fmt.Sprintf("%s/np=%d/seed=%d", network, np, seed), func(t *testing.T) {
					cfg := ordertest.Config{Rounds: 4, PerRank: 8, NoHuge: testing.Short()}
					p := ordertest.NewPlan(seed, np, cfg)
					mpitest.Run(t, np, func(t testing.TB, world *mpi.Comm) {
						if err := ordertest.Run(world, p); err != nil {
							t.Errorf("seed %d: %v", seed, err)
						}
					}, mpitest.Transport(network))
				})
			}
		}
	}
}
