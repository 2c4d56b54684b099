package main

import (
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/internal/jobenv"
	"golang.org/x/sys/unix"
)

// TestWithRankTimerSlack: a process started while the rank slack is set
// runs with it (every thread of it, sysmon's included, starts from it),
// and the launcher's thread gets its own slack back afterwards.
func TestWithRankTimerSlack(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	own, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatalf("reading this thread's timer slack: %v", err)
	}
	if own == rankTimerSlack {
		t.Fatalf("this thread's slack is already %d ns: the test could not tell", own)
	}
	restore, env, err := withRankTimerSlack()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{jobenv.TimerSlack + "=" + strconv.Itoa(own)}; !slices.Equal(env, want) {
		t.Errorf("the ranks' environment gets %q, want %q (the launcher's own slack)", env, want)
	}
	// Read by the child of itself (another task's needs CAP_SYS_NICE).
	out, err := exec.Command("cat", "/proc/self/timerslack_ns").Output()
	restore()
	if err != nil {
		t.Fatalf("reading a child's timer slack: %v", err)
	}
	if got, err := strconv.Atoi(strings.TrimSpace(string(out))); err != nil || got != rankTimerSlack {
		t.Errorf("a process started with the rank slack runs with %q (%v), want %d", out, err, rankTimerSlack)
	}
	after, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || after != own {
		t.Errorf("after restore the thread's slack is %d (%v), want its own %d", after, err, own)
	}
	out, err = exec.Command("cat", "/proc/self/timerslack_ns").Output()
	if got, _ := strconv.Atoi(strings.TrimSpace(string(out))); err != nil || got != own {
		t.Errorf("a process started after restore runs with %q (%v), want %d", out, err, own)
	}
}
