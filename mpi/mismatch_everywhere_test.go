package mpi_test

import (
	"errors"
	"testing"

	"github.com/gorun-mpi/gorun/mpi"
	"github.com/gorun-mpi/gorun/mpi/mpitest"
)

// TestMismatchReachesEveryRankBeforeItsPeersLeave: rank 0 calls Barrier
// while the others call Bcast; every rank must fail with the mismatch,
// though the ranks that learn of it first finish at once (which their
// peers could take for a lost peer, were the alarm of a rank not ahead of
// its goodbye) and the transport's paths between ranks are independent.
// Repeated, on real sockets and on NATS, where orders vary.
func TestMismatchReachesEveryRankBeforeItsPeersLeave(t *testing.T) {
	rounds := 100
	if testing.Short() {
		rounds = 20
	}
	for _, network := range mpitest.Networks() {
		t.Run(string(network), func(t *testing.T) {
			for range rounds {
				mpitest.Run(t, 3, func(t testing.TB, world *mpi.Comm) {
					var err error
					if world.Rank() == 0 {
						err = world.Barrier()
					} else if _, err = mpi.Bcast(world, "hello", 1); err == nil {
						err = world.Barrier()
					}
					if !errors.Is(err, mpi.ErrCollectiveMismatch) {
						t.Errorf("%v, want ErrCollectiveMismatch", err)
					}
				}, mpitest.Transport(network))
				if t.Failed() {
					return
				}
			}
		})
	}
}
