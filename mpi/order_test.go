package mpi_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gorun-mpi/gorun/internal/ordertest"
	"github.com/gorun-mpi/gorun/mpi"
	"github.com/gorun-mpi/gorun/mpi/mpitest"
)

// TestOrderRandomized runs internal/ordertest's seeded plan (mixed sizes,
// Send, Ssend, Isend, Sendrecv, three communicators, specific and wildcard
// receives before and after arrival) on ranks in this process over the
// in-memory transport, with the default eager limit and with a 1 KiB one;
// tests/order_test.go runs the same plan through gorun on the real
// transports. A failure names the seed.
func TestOrderRandomized(t *testing.T) {
	random := rand.Uint64() % 1_000_000
	t.Logf("random seed %d", random)
	for _, np := range []int{2, 3, 5} {
		for _, seed := range []uint64{1, 2, random} {
			for _, eager := range []int{0, 1024} {
				t.Run(fmt.Sprintf("np=%d/seed=%d/eager=%d", np, seed, eager), func(t *testing.T) {
					var opts []mpi.Option
					if eager > 0 {
						opts = append(opts, mpi.WithEagerLimit(eager))
					}
					cfg := ordertest.Config{Rounds: 4, PerRank: 8}
					if testing.Short() {
						cfg.NoHuge = true
					}
					runOrderPlan(t, ordertest.NewPlan(seed, np, cfg), opts...)
				})
			}
		}
	}
}

// runOrderPlan runs plan p on p.NP ranks over the in-memory transport.
func runOrderPlan(t *testing.T, p *ordertest.Plan, opts ...mpi.Option) {
	t.Helper()
	mpitest.Run(t, p.NP, func(t testing.TB, world *mpi.Comm) {
		if err := ordertest.Run(world, p); err != nil {
			t.Errorf("seed %d np=%d: %v", p.Seed, p.NP, err)
		}
	}, mpitest.InitOptions(opts...))
}
