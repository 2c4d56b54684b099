//go:build linux

package collectives

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// TestShmBcastBarrierRace: ranks race through many back-to-back Bcasts
// (random roots, values in the header and in the slot) and Barriers, each
// rank pausing at random (seeded) between calls, and check every value. A
// root that overwrote a header or a slot that a slower rank was still to
// read would hand that rank a later call's value: every value names its
// call and root.
func TestShmBcastBarrierRace(t *testing.T) {
	t.Setenv("GORUN_COLL_BCAST", "")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	const calls = 3000
	for _, np := range []int{2, 4, 5} {
		// The plan of calls is the same on every rank (one seed); the
		// pauses are each rank's own.
		plan := rand.New(rand.NewPCG(seed, uint64(np)))
		type call struct {
			barrier bool
			root, n int
		}
		steps := make([]call, calls)
		for i := range steps {
			steps[i] = call{barrier: plan.IntN(8) == 0, root: plan.IntN(np), n: 8 * (1 + plan.IntN(4))}
			if plan.IntN(6) == 0 {
				steps[i].n = testInlineBytes + 8*(1+plan.IntN(300)) // in the slot
			}
		}
		errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
			pauses := rand.New(rand.NewPCG(seed, uint64(np*1000+c.Rank())))
			for i, s := range steps {
				switch pauses.IntN(16) {
				case 0:
					time.Sleep(time.Duration(pauses.IntN(200)) * time.Microsecond)
				case 1, 2:
					runtime.Gosched()
				}
				if s.barrier {
					if err := Barrier(c); err != nil {
						return fmt.Errorf("call %d (Barrier): %w", i, err)
					}
					continue
				}
				want := raceValue(i, s.root, s.n)
				var v []byte
				if c.Rank() == s.root {
					v = bytes.Clone(want)
				}
				got, err := Bcast(c, bytesCodec{}, v, s.root)
				if err != nil {
					return fmt.Errorf("call %d (Bcast of %d bytes from %d): %w", i, s.n, s.root, err)
				}
				if !bytes.Equal(got, want) {
					return fmt.Errorf("call %d (Bcast of %d bytes from %d): got %d bytes %x..., want %x...",
						i, s.n, s.root, len(got), got[:min(len(got), 8)], want[:8])
				}
			}
			return nil
		})
		mustAll(t, fmt.Sprintf("np=%d seed=%d", np, seed), errs)
	}
}

// raceValue is call i's value of n bytes from root: every word names the
// call and the root.
func raceValue(i, root, n int) []byte {
	v := make([]byte, n)
	for off := 0; off+8 <= n; off += 8 {
		binary.LittleEndian.PutUint64(v[off:], uint64(i)<<32|uint64(root)<<16|uint64(off))
	}
	return v
}

// TestShmSmallBcastRunsAhead: a root of small Bcasts in a row finishes
// HeaderSets of them before the others start the first (each takes a
// header set of its own), and the next one, which reuses the first call's
// set, only once every rank has entered the first call.
func TestShmSmallBcastRunsAhead(t *testing.T) {
	t.Setenv("GORUN_COLL_BCAST", "")
	const np, ahead = 3, shmcoll.HeaderSets
	released := make(chan struct{})
	var entered atomic.Int32
	errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
		if c.Rank() == 0 {
			for i := range ahead + 1 {
				if i == ahead {
					close(released)
				}
				if _, err := Bcast(c, str{}, fmt.Sprint("call ", i), 0); err != nil {
					return err
				}
			}
			if n := entered.Load(); n != np-1 {
				return fmt.Errorf("the root reused the first call's header set with %d ranks yet to enter it", np-1-n)
			}
			return nil
		}
		select {
		case <-released:
		case <-time.After(waitLimit):
			return fmt.Errorf("the root waited for this rank within its first %d small broadcasts", ahead)
		}
		entered.Add(1)
		for i := range ahead + 1 {
			got, err := Bcast(c, str{}, "", 0)
			if want := fmt.Sprint("call ", i); err != nil || got != want {
				return fmt.Errorf("got %q, %v; want %q", got, err, want)
			}
		}
		return nil
	})
	mustAll(t, "small bcasts ahead", errs)
}
