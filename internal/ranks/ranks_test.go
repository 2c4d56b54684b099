package ranks

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestRunReturnsEachRanksOutcome(t *testing.T) {
	errBody := errors.New("body failed")
	errs := Run(4, Limits{Timeout: time.Minute}, func(rank int) error {
		switch rank {
		case 1:
			return errBody
		case 2:
			panic("boom")
		case 3:
			runtime.Goexit()
		}
		return nil
	})
	if errs[0] != nil || !errors.Is(errs[1], errBody) || !errors.Is(errs[3], ErrGoexit) {
		t.Errorf("errors %v", errs)
	}
	if !errors.Is(errs[2], ErrPanic) || !strings.Contains(errs[2].Error(), "boom") || !strings.Contains(errs[2].Error(), "ranks_test.go") {
		t.Errorf("panicking rank: %v, want ErrPanic with the value and the stack", errs[2])
	}
}

// TestHungRanksAreStoppedOrLeftBehind: at the time limit, a rank that Stop
// releases is reported stopped; one that Stop cannot release is reported
// left behind after the grace period; a rank that had finished is not
// touched.
func TestHungRanksAreStoppedOrLeftBehind(t *testing.T) {
	release := []chan struct{}{make(chan struct{}), make(chan struct{})}
	defer close(release[1])
	var stopped []int
	errs := Run(3, Limits{Timeout: 100 * time.Millisecond, Grace: 200 * time.Millisecond,
		Stop: func(rank int) {
			stopped = append(stopped, rank)
			if rank == 0 {
				close(release[0])
			}
		}}, func(rank int) error {
		if rank == 2 {
			return nil
		}
		<-release[rank]
		return nil
	})
	if len(stopped) != 2 || stopped[0] != 0 || stopped[1] != 1 {
		t.Errorf("stopped ranks %v, want [0 1]", stopped)
	}
	if errs[2] != nil {
		t.Errorf("finished rank: %v", errs[2])
	}
	for r, want := range []string{"; stopped\n", "still running 200ms after being stopped: its goroutine is left behind\n"} {
		if !errors.Is(errs[r], ErrHung) || !strings.Contains(errs[r].Error(), want) ||
			!strings.Contains(errs[r].Error(), "still running after 100ms, blocked in ") {
			t.Errorf("rank %d: %v, want ErrHung saying %q", r, errs[r], want)
		}
	}
	if !strings.Contains(errs[0].Error(), "(chan receive)") || !strings.Contains(errs[0].Error(), "ranks_test.go:") {
		t.Errorf("rank 0's report does not show where it waited: %v", errs[0])
	}
}

func TestBlockedCallNamesTheCallTheRankMade(t *testing.T) {
	frames := []frame{
		{"runtime.gopark(0x1, 0x2)", "/go/src/runtime/proc.go:1"},
		{"github.com/gorun-mpi/gorun/mpi.(*engine).await(...)", "/m/mpi/wait.go:17"},
		{"github.com/gorun-mpi/gorun/mpi.Bcast[...](0x1, {0x2, 0x3}, 0x0)", "/m/mpi/collective.go:70"},
		{"example.com/app.work(0x1)", "/app/work.go:42"},
		{"github.com/gorun-mpi/gorun/mpi.(*Comm).Recv(0x1)", "/m/mpi/p2p.go:9"}, // an outer, older call
	}
	if got, want := blockedCall(frames, mpiAPI), "mpi.Bcast[...] called at /app/work.go:42"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := blockedCall(frames[3:4], mpiAPI), "app.work at /app/work.go:42"; got != want {
		t.Errorf("outside mpi: got %q, want %q", got, want)
	}
	// Frames in test files of the package are the rank's own code.
	inTest := []frame{frames[1], {"github.com/gorun-mpi/gorun/mpi.TestX.func1()", "/m/mpi/x_test.go:5"}}
	if got, want := blockedCall(inTest, mpiAPI), "mpi.(*engine).await called at /m/mpi/x_test.go:5"; got != want {
		t.Errorf("internal test: got %q, want %q", got, want)
	}
}

func TestStartMakesConnectedTransports(t *testing.T) {
	for _, network := range Networks() {
		job, err := Start(network, 3)
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		for r, tr := range job.Transports {
			if tr.Rank() != r || tr.Size() != 3 {
				t.Errorf("%s: transport %d is rank %d of %d", network, r, tr.Rank(), tr.Size())
			}
		}
		job.Close()
	}
	if _, err := Start("carrier pigeon", 2); !errors.Is(err, ErrNetwork) {
		t.Errorf("unknown network: %v", err)
	}
	if _, err := Start(InMemory, 0); err == nil {
		t.Error("a job of 0 ranks started")
	}
}

type deadline time.Time

func (d deadline) Deadline() (time.Time, bool) { return time.Time(d), true }

func TestTimeoutForStaysWithinTheTestsDeadline(t *testing.T) {
	if got := TimeoutFor(struct{}{}, time.Minute); got != time.Minute {
		t.Errorf("without a deadline: %v", got)
	}
	if got := TimeoutFor(deadline(time.Now().Add(time.Hour)), time.Minute); got != time.Minute {
		t.Errorf("with a far deadline: %v", got)
	}
	if got := TimeoutFor(deadline(time.Now().Add(20*time.Second)), time.Minute); got > 18*time.Second || got < 15*time.Second {
		t.Errorf("20 s before the deadline: %v, want about 18 s", got)
	}
}
