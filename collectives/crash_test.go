package collectives

import (
	"errors"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
)

// TestCrashedRankGivesErrorsNotHangs: with one rank dead before the call,
// every other rank returns an error (a lost or finished peer, directly or
// through a rank that gave up) instead of waiting forever.
func TestCrashedRankGivesErrorsNotHangs(t *testing.T) {
	// In a binomial tree only the ranks above the dead one depend on it;
	// scatter + allgather makes every rank depend on every other, so every
	// rank must see the failure.
	t.Setenv("GORUN_COLL_BCAST", "scatter_allgather")
	calls := map[string]func(c Conn) error{
		"Barrier": Barrier,
		"AllreduceSlice": func(c Conn) error {
			_, err := AllreduceSlice(c, float64s{}, make([]float64, 50000), sumF)
			return err
		},
		"Bcast": func(c Conn) error {
			_, err := Bcast(c, bytesCodec{}, make([]byte, 1<<20), 0)
			return err
		},
		"Allgather": func(c Conn) error {
			_, err := Allgather(c, str{}, "x")
			return err
		},
	}
	for name, call := range calls {
		for _, np := range []int{2, 5, 8} {
			dead := np - 1
			net := comm.NewNetwork(np)
			net.Crash(dead)
			errs := runOnNetwork(t, net, np, true, func(c Conn) error {
				if c.Rank() == dead {
					return errors.New("dead")
				}
				return call(c)
			})
			for r, err := range errs {
				if r != dead && !errors.Is(err, comm.ErrPeerLost) && !errors.Is(err, comm.ErrPeerFinished) {
					t.Errorf("%s np=%d: rank %d got %v, want a lost or finished peer", name, np, r, err)
				}
			}
		}
	}
}
