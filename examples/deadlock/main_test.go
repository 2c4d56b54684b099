package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/examples/internal/runexample"
	"github.com/gorun-mpi/gorun/internal/jobenv"
)

func TestMain(m *testing.M) { runexample.Main(m) }

func expectSwapped(t *testing.T, res runexample.Result, np, bytes int, mode string) {
	t.Helper()
	for r := range np {
		if r^1 >= np {
			continue // no partner
		}
		want := fmt.Sprintf("rank %d swapped %d bytes with rank %d (%s)\n", r, bytes, r^1, mode)
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("np=%d: missing %q in:\n%s", np, want, res.Stdout)
		}
	}
}

func TestFixesWork(t *testing.T) {
	for _, mode := range []string{"sendrecv", "ordered"} {
		for _, np := range []int{2, 5} {
			res := runexample.MustSucceed(t, runexample.Options{NP: np, Args: []string{"-mode", mode, "-bytes", "1000000"}})
			expectSwapped(t, res, np, 1000000, mode)
			if np == 5 && !strings.Contains(res.Stdout, "rank 4 has no partner") {
				t.Errorf("rank 4 should sit out:\n%s", res.Stdout)
			}
		}
	}
}

func TestSendSendWorksOnlyBelowTheEagerLimit(t *testing.T) {
	for _, np := range []int{2, 4} {
		res := runexample.MustSucceed(t, runexample.Options{NP: np, Args: []string{"-mode", "send-send", "-bytes", "1024"}})
		expectSwapped(t, res, np, 1024, "send-send")
	}
	res := runexample.Run(t, runexample.Options{NP: 2, Args: []string{"-mode", "send-send", "-bytes", "1000000"}})
	expectDeadlock(t, res, `rank 0 in Send\(dest 1, tag 1\)`)
	// The same small exchange deadlocks under gorun --sync-sends, on both
	// transports: the way to find out a program relies on buffering.
	for _, transport := range jobenv.Transports() {
		res = runexample.Run(t, runexample.Options{NP: 2, Args: []string{"-mode", "send-send", "-bytes", "1024"},
			GorunFlags: []string{"--sync-sends", "--transport", transport}})
		expectDeadlock(t, res, `rank 0 in Send\(dest 1, tag 1\); rank 1 in Send\(dest 0, tag 1\)`)
	}
	// The safe ways are still safe.
	for _, mode := range []string{"sendrecv", "ordered"} {
		res = runexample.MustSucceed(t, runexample.Options{NP: 2, Args: []string{"-mode", mode, "-bytes", "1024"},
			GorunFlags: []string{"--sync-sends"}})
		expectSwapped(t, res, 2, 1024, mode)
	}
	// The same small exchange deadlocks once the eager limit is lowered.
	res = runexample.Run(t, runexample.Options{NP: 2, Args: []string{"-mode", "send-send", "-bytes", "1024"}, Env: []string{"GORUN_EAGER_LIMIT=512"}})
	expectDeadlock(t, res, `in Send\(dest`)
}

func TestRecvFirstDeadlocks(t *testing.T) {
	for _, np := range []int{2, 3} {
		res := runexample.Run(t, runexample.Options{NP: np, Args: []string{"-mode", "recv-first"}})
		expectDeadlock(t, res, `rank 0 in Recv\(source 1, tag 1\); rank 1 in Recv\(source 0, tag 1\)`)
	}
}

func expectDeadlock(t *testing.T, res runexample.Result, who string) {
	t.Helper()
	if res.ExitCode == 0 || !regexp.MustCompile(`gorun: deadlock: .*`+who).MatchString(res.Stderr) {
		t.Errorf("exit %d; want gorun to report a deadlock naming %s\nstdout:\n%s\nstderr:\n%s", res.ExitCode, who, res.Stdout, res.Stderr)
	}
}
