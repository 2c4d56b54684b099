package mpitest_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
	"github.com/gorun-mpi/gorun/mpi/mpitest"
)

// TestRunOverEveryNetwork passes every rank's number around a ring on each
// network and checks what each rank got.
func TestRunOverEveryNetwork(t *testing.T) {
	for _, network := range mpitest.Networks() {
		t.Run(string(network), func(t *testing.T) {
			const n = 4
			got := make([]int, n)
			mpitest.Run(t, n, func(t testing.TB, world *mpi.Comm) {
				me := world.Rank()
				if world.Size() != n {
					t.Fatalf("size %d, want %d", world.Size(), n)
				}
				var v int
				if _, err := world.Sendrecv(me*10, (me+1)%n, 0, &v, (me+n-1)%n, 0); err != nil {
					t.Fatal(err)
				}
				got[me] = v
			}, mpitest.Transport(network))
			for r, v := range got {
				if want := (r + n - 1) % n * 10; v != want {
					t.Errorf("rank %d got %d, want %d", r, v, want)
				}
			}
		})
	}
}

// recorder is a testing.TB that keeps what Run reports instead of failing
// the real test.
type recorder struct {
	testing.TB
	mu      sync.Mutex
	errs    []string
	failed  bool
	skipped bool
}

func (r *recorder) Helper()         {}
func (r *recorder) Log(args ...any) {}
func (r *recorder) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprint(args...))
	r.failed = true
}
func (r *recorder) Errorf(format string, args ...any) { r.Error(fmt.Sprintf(format, args...)) }
func (r *recorder) Fail()                             { r.mu.Lock(); r.failed = true; r.mu.Unlock() }
func (r *recorder) Failed() bool                      { r.mu.Lock(); defer r.mu.Unlock(); return r.failed }
func (r *recorder) Fatal(args ...any)                 { r.Error(args...); runtime.Goexit() }
func (r *recorder) SkipNow()                          { r.mu.Lock(); r.skipped = true; r.mu.Unlock(); runtime.Goexit() }

// record runs Run with a recorder on its own goroutine (Run may end it
// with Goexit, as a test's FailNow and SkipNow do) and returns the recorder.
func record(t *testing.T, n int, body func(t testing.TB, world *mpi.Comm), opts ...mpitest.Option) *recorder {
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		mpitest.Run(rec, n, body, opts...)
	}()
	<-done
	return rec
}

func (r *recorder) expect(t *testing.T, wants ...string) {
	t.Helper()
	all := strings.Join(r.errs, "\n")
	for _, want := range wants {
		if !strings.Contains(all, want) {
			t.Errorf("the failures do not say %q; they are:\n%s", want, all)
		}
	}
	if !r.failed {
		t.Error("the test was not failed")
	}
}

// TestFatalEndsOnlyItsRankAndNamesIt: rank 2's t.Fatalf fails the test
// with its rank named, its code after Fatalf does not run, and the others
// finish their work.
func TestFatalEndsOnlyItsRankAndNamesIt(t *testing.T) {
	var after, finished sync.Map
	rec := record(t, 4, func(t testing.TB, world *mpi.Comm) {
		if world.Rank() == 2 {
			t.Fatalf("bad value %d", 7)
			after.Store(2, true)
		}
		finished.Store(world.Rank(), true)
	})
	rec.expect(t, "rank 2: bad value 7")
	if len(rec.errs) != 1 {
		t.Errorf("%d failures, want 1: %q", len(rec.errs), rec.errs)
	}
	if _, ran := after.Load(2); ran {
		t.Error("rank 2 went on after Fatalf")
	}
	for _, r := range []int{0, 1, 3} {
		if _, ok := finished.Load(r); !ok {
			t.Errorf("rank %d did not finish", r)
		}
	}
}

// TestPanicIsReportedAndItsPeersAreNotLeftWaiting: rank 1 panics while
// rank 0 waits for its message; the panic fails the test with rank 1 named
// and its stack, and rank 0's receive fails with ErrPeerLost.
func TestPanicIsReportedAndItsPeersAreNotLeftWaiting(t *testing.T) {
	for _, network := range mpitest.Networks() {
		t.Run(string(network), func(t *testing.T) {
			var waitErr error
			rec := record(t, 2, func(t testing.TB, world *mpi.Comm) {
				if world.Rank() == 1 {
					var nothing []int
					_ = nothing[3] // index out of range
				}
				var v int
				_, waitErr = world.Recv(&v, 1, 0)
			}, mpitest.Transport(network))
			rec.expect(t, "rank 1: ranks: panic: runtime error: index out of range", "run_test.go")
			if !errors.Is(waitErr, mpi.ErrPeerLost) {
				t.Errorf("rank 0's receive from the rank that panicked: %v, want ErrPeerLost", waitErr)
			}
		})
	}
}

// TestHungRanksAreEndedWithTheCallTheyWereIn: two ranks that each wait for
// the other's message (a deadlock) are ended after the job's time, each
// reported with its receive and the line that called it.
func TestHungRanksAreEndedWithTheCallTheyWereIn(t *testing.T) {
	start := time.Now()
	var at atomic.Value
	rec := record(t, 2, func(t testing.TB, world *mpi.Comm) {
		var v int
		_, file, line, _ := runtime.Caller(0)
		at.Store(fmt.Sprintf("%s:%d", file, line+2))
		world.Recv(&v, 1-world.Rank(), 5)
	}, mpitest.Timeout(300*time.Millisecond))
	call := "blocked in mpi.(*Comm).Recv called at " + at.Load().(string) + " (chan receive); stopped\n"
	rec.expect(t, "rank 0: ranks: hung: still running after 300ms, "+call, "rank 1: ranks: hung: still running after 300ms, "+call)
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the hung job took %v to end", took)
	}
}

// TestSkipInEveryRankSkipsTheTest and a skip in one rank with a failure in
// another fails it.
func TestSkipInEveryRankSkipsTheTest(t *testing.T) {
	rec := record(t, 3, func(t testing.TB, world *mpi.Comm) { t.Skip("not here") })
	if !rec.skipped || rec.failed {
		t.Errorf("skipped %v failed %v, want skipped and not failed", rec.skipped, rec.failed)
	}
	rec = record(t, 2, func(t testing.TB, world *mpi.Comm) {
		if world.Rank() == 0 {
			t.Skip("not here")
		}
		t.Error("failed")
	})
	if rec.skipped || !rec.failed {
		t.Errorf("skipped %v failed %v, want failed and not skipped", rec.skipped, rec.failed)
	}
}

// TestDoJoinsErrorsNamingRanks: Do returns each failed rank's error, named,
// matchable with errors.Is.
func TestDoJoinsErrorsNamingRanks(t *testing.T) {
	errOdd := errors.New("odd rank")
	err := mpitest.Do(4, func(world *mpi.Comm) error {
		if world.Rank()%2 == 1 {
			return fmt.Errorf("checking: %w", errOdd)
		}
		return nil
	})
	if !errors.Is(err, errOdd) {
		t.Fatalf("Do: %v, want errOdd", err)
	}
	if want := "rank 1: checking: odd rank\nrank 3: checking: odd rank"; err.Error() != want {
		t.Errorf("Do says %q, want %q", err, want)
	}
	if err := mpitest.Do(2, func(*mpi.Comm) error { return nil }, mpitest.Transport("carrier pigeon")); err == nil || !strings.Contains(err.Error(), `unknown network "carrier pigeon"`) {
		t.Errorf("Do over an unknown network: %v", err)
	}
}

// TestInitFailureIsReportedPerRank: when mpi.Init fails (here on a bad
// GORUN_EAGER_LIMIT), each rank's error says so, and the job's transports,
// never started, are closed at once.
func TestInitFailureIsReportedPerRank(t *testing.T) {
	t.Setenv("GORUN_EAGER_LIMIT", "lots")
	start := time.Now()
	err := mpitest.Do(3, func(*mpi.Comm) error { return errors.New("the body ran") }, mpitest.Transport(mpitest.Unix))
	if !errors.Is(err, mpi.ErrInit) || strings.Contains(err.Error(), "the body ran") || !strings.Contains(err.Error(), "rank 2: ") {
		t.Errorf("Do with a bad environment: %v, want every rank's ErrInit", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the failed job took %v to end", took)
	}
}
