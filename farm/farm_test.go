package farm_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/farm"
	"github.com/gorun-mpi/gorun/mpi"
)

// ranks runs body on n ranks in this process over the in-memory transport
// and returns each rank's error; it fails the test if a rank hangs.
func ranks(t *testing.T, n int, body func(world *mpi.Comm) error, opts ...mpi.Option) []error {
	t.Helper()
	net := comm.NewNetwork(n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			world, err := mpi.Init(append([]mpi.Option{mpi.WithTransport(net.Transport(r))}, opts...)...)
			if err != nil {
				errs[r] = err
				return
			}
			errs[r] = body(world)
			world.Finalize()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("%d ranks: still running after 60s (a hang); goroutines:\n%s", n, buf[:runtime.Stack(buf, true)])
	}
	return errs
}

// noErrors fails the test with every rank's error.
func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

func TestMapInOrder(t *testing.T) {
	for _, np := range []int{1, 2, 4} {
		for _, chunk := range []int{0, 1, 7} {
			t.Run(fmt.Sprintf("np=%d/chunk=%d", np, chunk), func(t *testing.T) {
				const n = 5000
				outs := make([][]int, np)
				noErrors(t, ranks(t, np, func(world *mpi.Comm) error {
					var inputs []int
					if world.Rank() == 0 {
						for i := range n {
							inputs = append(inputs, i)
						}
					}
					var err error
					outs[world.Rank()], err = farm.Map(world, inputs, func(x int) (int, error) { return x * x, nil }, farm.WithChunk(chunk))
					return err
				}))
				if len(outs[0]) != n {
					t.Fatalf("rank 0: %d results, want %d", len(outs[0]), n)
				}
				for i, v := range outs[0] {
					if v != i*i {
						t.Fatalf("result %d = %d, want %d", i, v, i*i)
					}
				}
				for r := 1; r < np; r++ {
					if outs[r] != nil {
						t.Errorf("rank %d got %d results, want nil", r, len(outs[r]))
					}
				}
			})
		}
	}
}

// where is an output that says which rank computed it.
type where struct {
	Rank, Value int
}

func TestRunCallbackOncePerInput(t *testing.T) {
	const n = 300
	seen := make([]int, n)
	perRank := map[int]int{}
	noErrors(t, ranks(t, 4, func(world *mpi.Comm) error {
		inputs := make([]string, n) // every rank passes inputs: only rank 0's count
		for i := range inputs {
			inputs[i] = fmt.Sprint(i)
		}
		me := world.Rank()
		fn := func(s string) (where, error) {
			var v int
			_, err := fmt.Sscan(s, &v)
			return where{me, v}, err
		}
		return farm.Run(world, inputs, fn, func(i int, out where) {
			if me != 0 {
				panic("callback on a worker")
			}
			if out.Value != i {
				t.Errorf("callback(%d, %v)", i, out)
			}
			seen[i]++
			perRank[out.Rank]++
		})
	}))
	for i, k := range seen {
		if k != 1 {
			t.Errorf("input %d delivered %d times", i, k)
		}
	}
	if perRank[0] != 0 {
		t.Errorf("rank 0 ran %d tasks; with workers it only hands them out", perRank[0])
	}
}

// A slow task holds up only the worker running it: the others do the rest.
func TestLoadBalance(t *testing.T) {
	const n = 40
	perRank := map[int]int{}
	slowRank := -1
	start := time.Now()
	noErrors(t, ranks(t, 4, func(world *mpi.Comm) error {
		me := world.Rank()
		inputs := make([]int, n)
		for i := range inputs {
			inputs[i] = i
		}
		fn := func(i int) (where, error) {
			if i == 0 {
				time.Sleep(1500 * time.Millisecond)
			} else {
				time.Sleep(20 * time.Millisecond)
			}
			return where{me, i}, nil
		}
		return farm.Run(world, inputs, fn, func(i int, out where) {
			perRank[out.Rank]++
			if i == 0 {
				slowRank = out.Rank
			}
		})
	}))
	took := time.Since(start)
	t.Logf("tasks per rank: %v (task 0, 1.5 s, on rank %d); %v in all", perRank, slowRank, took)
	for r := 1; r < 4; r++ {
		if r == slowRank && perRank[r] > prefetchBound {
			t.Errorf("rank %d, running the slow task, did %d tasks: it held more than the next one", r, perRank[r])
		}
		if r != slowRank && perRank[r] < 10 {
			t.Errorf("rank %d did only %d tasks", r, perRank[r])
		}
	}
	if took > 4*time.Second {
		t.Errorf("the farm took %v: the slow task held the others up", took)
	}
}

// prefetchBound: the worker that runs a slow task also holds the next.
const prefetchBound = 2

var errBoom = errors.New("boom")

func TestTaskError(t *testing.T) {
	for _, np := range []int{1, 3} {
		t.Run(fmt.Sprintf("np=%d", np), func(t *testing.T) {
			errs := ranks(t, np, func(world *mpi.Comm) error {
				inputs := make([]int, 100)
				for i := range inputs {
					inputs[i] = i
				}
				out, err := farm.Map(world, inputs, func(i int) (int, error) {
					if i == 17 {
						return 0, fmt.Errorf("reading input: %w", errBoom)
					}
					return i, nil
				}, farm.WithChunk(1))
				if out != nil {
					return fmt.Errorf("results %v with the error %v", out, err)
				}
				return err
			})
			for r, err := range errs {
				var te *farm.TaskError
				if !errors.As(err, &te) || te.Index != 17 {
					t.Fatalf("rank %d: %v, want a TaskError for task 17", r, err)
				}
				if np > 1 && te.Rank == 0 {
					t.Errorf("rank %d: %v: the task ran on rank 0", r, err)
				}
				want := fmt.Sprintf("farm: task 17 on rank %d: reading input: boom", te.Rank)
				if err.Error() != want {
					t.Errorf("rank %d: %q, want %q", r, err, want)
				}
				if np == 1 && !errors.Is(err, errBoom) {
					t.Errorf("rank %d: %v does not wrap the task's error", r, err)
				}
			}
		})
	}
}

func TestPanic(t *testing.T) {
	for _, np := range []int{1, 4} {
		errs := ranks(t, np, func(world *mpi.Comm) error {
			_, err := farm.Map(world, []int{1, 2, 3, 0, 5, 6, 7, 8}, func(i int) (int, error) { return 10 / i, nil })
			return err
		})
		for r, err := range errs {
			var te *farm.TaskError
			if !errors.Is(err, farm.ErrPanic) || !errors.As(err, &te) || te.Index != 3 {
				t.Errorf("np=%d rank %d: %v, want task 3's panic", np, r, err)
			} else if r == 0 {
				t.Logf("np=%d: %v", np, err)
			}
		}
	}
}

func TestCallbackPanic(t *testing.T) {
	errs := ranks(t, 3, func(world *mpi.Comm) error {
		return farm.Run(world, []int{1, 2, 3, 4, 5, 6}, func(i int) (int, error) { return i, nil },
			func(i, out int) {
				if out == 4 {
					panic("full")
				}
			}, farm.WithChunk(1))
	})
	for r, err := range errs {
		var te *farm.TaskError
		if !errors.Is(err, farm.ErrPanic) || !errors.As(err, &te) || te.Index != 3 || te.Rank != 0 {
			t.Errorf("rank %d: %v, want the callback's panic for task 3 on rank 0", r, err)
		}
	}
}

// A worker that leaves mid-farm (here it finalizes, as if it died) ends
// the farm with an error naming its task; no rank hangs.
func TestWorkerLost(t *testing.T) {
	errs := ranks(t, 4, func(world *mpi.Comm) error {
		me := world.Rank()
		inputs := make([]int, 60)
		for i := range inputs {
			inputs[i] = i
		}
		_, err := farm.Map(world, inputs, func(i int) (int, error) {
			time.Sleep(5 * time.Millisecond)
			if me == 2 && i >= 20 {
				world.Finalize() // gone
			}
			return i, nil
		}, farm.WithChunk(1))
		return err
	})
	var te *farm.TaskError
	if !errors.Is(errs[0], mpi.ErrPeerLost) || !errors.As(errs[0], &te) || te.Rank != 2 || te.Index < 20 {
		t.Fatalf("rank 0: %v, want rank 2 lost on a task >= 20", errs[0])
	}
	t.Logf("rank 0: %v", errs[0])
	for _, r := range []int{1, 3} {
		if !errors.Is(errs[r], mpi.ErrPeerLost) || errs[r].Error() != errs[0].Error() {
			t.Errorf("rank %d: %v, want rank 0's error", r, errs[r])
		}
	}
	if errs[2] == nil {
		t.Errorf("rank 2: no error after leaving")
	}
}

// The farm's messages never mix with the caller's, pending or not.
func TestOwnMessageSpace(t *testing.T) {
	noErrors(t, ranks(t, 3, func(world *mpi.Comm) error {
		if world.Rank() == 0 {
			for _, tag := range []int{1, 2, 3, 4, 5, 6} {
				if err := world.Send("user", 1, tag); err != nil {
					return err
				}
			}
		}
		out, err := farm.Map(world, []int{1, 2, 3, 4, 5}, func(i int) (int, error) { return -i, nil })
		if err != nil {
			return err
		}
		if world.Rank() == 0 && fmt.Sprint(out) != "[-1 -2 -3 -4 -5]" {
			return fmt.Errorf("results %v", out)
		}
		if world.Rank() == 1 {
			for _, tag := range []int{1, 2, 3, 4, 5, 6} {
				var s string
				if _, err := world.Recv(&s, 0, tag); err != nil || s != "user" {
					return fmt.Errorf("tag %d: %q, %v", tag, s, err)
				}
			}
		}
		return nil
	}))
}

func TestNoInputs(t *testing.T) {
	noErrors(t, ranks(t, 3, func(world *mpi.Comm) error {
		out, err := farm.Map(world, []string(nil), func(s string) (int, error) { return len(s), nil })
		if world.Rank() == 0 && (out == nil || len(out) != 0) {
			return fmt.Errorf("results %#v, want an empty slice", out)
		}
		return err
	}))
}

// An input that cannot travel fails the farm; the workers still stop.
func TestUnencodableInput(t *testing.T) {
	errs := ranks(t, 3, func(world *mpi.Comm) error {
		_, err := farm.Map(world, []chan int{make(chan int)}, func(chan int) (int, error) { return 0, nil })
		return err
	})
	for r, err := range errs {
		var te *farm.TaskError
		if !errors.As(err, &te) || te.Index != 0 {
			t.Errorf("rank %d: %v, want a TaskError for task 0", r, err)
		}
	}
	t.Logf("rank 0: %v", errs[0])
}

// With every send synchronous (gorun --sync-sends), the farm neither
// deadlocks nor loses a message, whether it succeeds or fails.
func TestSyncSends(t *testing.T) {
	inputs := make([]int, 500)
	for i := range inputs {
		inputs[i] = i
	}
	for _, failAt := range []int{-1, 3, 250} {
		errs := ranks(t, 4, func(world *mpi.Comm) error {
			out, err := farm.Map(world, inputs, func(i int) ([]float64, error) {
				if i == failAt {
					return nil, errBoom
				}
				return make([]float64, 20000), nil // above the eager limit
			}, farm.WithChunk(1+failAt%2))
			if err == nil && world.Rank() == 0 && len(out) != len(inputs) {
				return fmt.Errorf("%d results", len(out))
			}
			return err
		}, mpi.WithSyncSends())
		for r, err := range errs {
			var te *farm.TaskError
			if failAt < 0 && err != nil || failAt >= 0 && (!errors.As(err, &te) || te.Index != failAt) {
				t.Errorf("failing at %d: rank %d: %v", failAt, r, err)
			}
		}
	}
}

func TestNilComm(t *testing.T) {
	out, err := farm.Map(nil, []int{1}, func(i int) (int, error) { return i, nil })
	if out != nil || !errors.Is(err, mpi.ErrNilComm) {
		t.Errorf("Map on a nil communicator: %v, %v", out, err)
	}
}

// Ranks that disagree on the input type (programs built differently, say)
// fail the farm with an error naming the task; no rank hangs.
func TestInputTypeMismatch(t *testing.T) {
	errs := ranks(t, 3, func(world *mpi.Comm) error {
		if world.Rank() == 0 {
			_, err := farm.Map(world, []string{"a", "b", "c"}, func(s string) (int, error) { return len(s), nil }, farm.WithChunk(1))
			return err
		}
		_, err := farm.Map(world, []int(nil), func(i int) (int, error) { return i, nil }, farm.WithChunk(1))
		return err
	})
	for r, err := range errs {
		var te *farm.TaskError
		if !errors.As(err, &te) || te.Index < 0 || te.Rank == 0 || !strings.Contains(err.Error(), "type mismatch") {
			t.Errorf("rank %d: %v, want a task's type mismatch", r, err)
		}
	}
	t.Logf("rank 0: %v", errs[0])
}
