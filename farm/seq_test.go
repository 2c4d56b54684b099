package farm_test

import (
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorun-mpi/gorun/farm"
	"github.com/gorun-mpi/gorun/mpi"
)

// counting is a sequence of n inputs 0..n-1 that counts how many it has
// yielded, and says whether it was stopped before its end.
type counting struct {
	n       int
	yielded atomic.Int64
	stopped atomic.Bool
}

func (c *counting) seq() iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; c.n < 0 || i < c.n; i++ {
			c.yielded.Add(1)
			if !yield(i) {
				c.stopped.Store(true)
				return
			}
		}
	}
}

// Every input of the sequence is run once and delivered with its
// position; the master pulls inputs only as workers need them, so no more
// than two tasks per worker are ever pulled and not answered.
func TestRunSeqDeliversEachOnceLazily(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 18))
	for _, np := range []int{1, 2, 4} {
		for _, chunk := range []int{0, 1, 5} {
			n := 50 + rng.IntN(400)
			t.Run(fmt.Sprintf("np=%d,chunk=%d,n=%d", np, chunk, n), func(t *testing.T) {
				src := &counting{n: n}
				seen := make([]int, n)
				delivered, mostAhead := 0, int64(0)
				noErrors(t, ranks(t, np, func(world *mpi.Comm) error {
					var inputs iter.Seq[int]
					if world.Rank() == 0 {
						inputs = src.seq()
					}
					me := world.Rank()
					fn := func(i int) (where, error) { return where{me, i * i}, nil }
					return farm.RunSeq(world, inputs, fn, func(i int, out where) {
						if out.Value != i*i {
							t.Errorf("callback(%d, %v)", i, out)
						}
						seen[i]++
						delivered++
						mostAhead = max(mostAhead, src.yielded.Load()-int64(delivered))
					}, farm.WithChunk(chunk))
				}))
				for i, k := range seen {
					if k != 1 {
						t.Errorf("input %d delivered %d times", i, k)
					}
				}
				if src.stopped.Load() {
					t.Error("the sequence was stopped although the farm succeeded")
				}
				if chunk > 0 && np > 1 {
					// In flight: each worker's two tasks, and the ones just
					// delivered (a chunk's results are delivered together).
					if limit := int64((np-1)*2*chunk + chunk); mostAhead > limit {
						t.Errorf("up to %d inputs pulled and not answered; a lazy master holds at most %d", mostAhead, limit)
					}
				}
			})
		}
	}
}

// The first results arrive while the sequence is still being produced.
func TestRunSeqOverlapsProducing(t *testing.T) {
	const n = 200
	src := &counting{n: n}
	yieldedAtFirst := int64(-1)
	noErrors(t, ranks(t, 3, func(world *mpi.Comm) error {
		return farm.RunSeq(world, src.seq(), func(i int) (int, error) { return i, nil }, func(i, out int) {
			if yieldedAtFirst < 0 {
				yieldedAtFirst = src.yielded.Load()
			}
		}, farm.WithChunk(1))
	}))
	if yieldedAtFirst < 1 || yieldedAtFirst >= n {
		t.Errorf("%d of %d inputs produced when the first result came; want the farm to start before the sequence ends", yieldedAtFirst, n)
	}
}

// A sequence that panics fails the farm on every rank, naming the input it
// was producing, and no rank hangs.
func TestRunSeqPanics(t *testing.T) {
	for _, np := range []int{1, 3} {
		t.Run(fmt.Sprint("np=", np), func(t *testing.T) {
			inputs := func(yield func(int) bool) {
				for i := 0; ; i++ {
					if i == 17 {
						panic("out of requests")
					}
					if !yield(i) {
						return
					}
				}
			}
			errs := ranks(t, np, func(world *mpi.Comm) error {
				return farm.RunSeq(world, inputs, func(i int) (int, error) { return i, nil }, nil, farm.WithChunk(2))
			})
			for r, err := range errs {
				var te *farm.TaskError
				if !errors.As(err, &te) || te.Index != 17 || te.Rank != 0 || !errors.Is(err, farm.ErrPanic) ||
					!strings.Contains(err.Error(), "out of requests") {
					t.Errorf("rank %d: %v, want the sequence's panic at input 17 on rank 0", r, err)
				}
			}
			t.Logf("rank 0: %v", errs[0])
		})
	}
}

// A task that fails ends the farm over an endless sequence: RunSeq returns
// the task's error on every rank and stops the sequence.
func TestRunSeqFailureStopsTheSequence(t *testing.T) {
	for _, np := range []int{1, 4} {
		t.Run(fmt.Sprint("np=", np), func(t *testing.T) {
			src := &counting{n: -1}
			bad := errors.New("bad input")
			errs := ranks(t, np, func(world *mpi.Comm) error {
				return farm.RunSeq(world, src.seq(), func(i int) (int, error) {
					if i == 40 {
						return 0, bad
					}
					return i, nil
				}, nil)
			})
			for r, err := range errs {
				var te *farm.TaskError
				if !errors.As(err, &te) || te.Index != 40 || !strings.Contains(err.Error(), "bad input") {
					t.Errorf("rank %d: %v, want task 40's error", r, err)
				}
			}
			if !src.stopped.Load() {
				t.Error("the endless sequence was not stopped")
			}
		})
	}
}

// An empty or nil sequence is a farm with nothing to do.
func TestRunSeqEmpty(t *testing.T) {
	for _, np := range []int{1, 3} {
		for _, inputs := range []iter.Seq[int]{nil, func(func(int) bool) {}} {
			calls := 0
			noErrors(t, ranks(t, np, func(world *mpi.Comm) error {
				return farm.RunSeq(world, inputs, func(i int) (int, error) { return i, nil }, func(int, int) { calls++ })
			}))
			if calls != 0 {
				t.Errorf("np=%d: %d callbacks for no inputs", np, calls)
			}
		}
	}
}
