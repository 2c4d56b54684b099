package mpi_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/ordertest"
	"github.com/gorun-mpi/gorun/mpi"
)

// TestOrderOverComposite runs internal/ordertest's seeded plan on ranks in
// this process over composites of two in-memory networks (the twin of the
// Unix + NATS composite gorun builds from a placement): rank r's peers on
// the same pretend host (r%2) through one network, the others through the
// other. Matching order and content hold whichever network carries a pair.
func TestOrderOverComposite(t *testing.T) {
	random := rand.Uint64() % 1_000_000
	t.Logf("random seed %d", random)
	for _, np := range []int{2, 3, 5} {
		for _, seed := range []uint64{7, random} {
			t.Run(fmt.Sprintf("np=%d/seed=%d", np, seed), func(t *testing.T) {
				cfg := ordertest.Config{Rounds: 4, PerRank: 8, NoHuge: testing.Short()}
				p := ordertest.NewPlan(seed, np, cfg)
				nets := []*comm.Network{comm.NewNetwork(np), comm.NewNetwork(np)}
				errs := make([]error, np)
				var wg sync.WaitGroup
				for r := range np {
					route := make([]int, np)
					for peer := range np {
						if peer%2 != r%2 {
							route[peer] = 1
						}
					}
					c, err := comm.NewComposite(r, np, []comm.Transport{nets[0].Transport(r), nets[1].Transport(r)}, route)
					if err != nil {
						t.Fatal(err)
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						world, err := mpi.Init(mpi.WithTransport(c))
						if err != nil {
							errs[r] = err
							return
						}
						errs[r] = ordertest.Run(world, p)
						if err := world.Finalize(); err != nil && errs[r] == nil {
							errs[r] = err
						}
					}()
				}
				wg.Wait()
				for r, err := range errs {
					if err != nil {
						t.Errorf("seed %d, rank %d: %v", seed, r, err)
					}
				}
			})
		}
	}
}
