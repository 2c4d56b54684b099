package tests

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/internal/gorunner"
)

// TestEndingAJob checks every way a job ends early: gorun's exit status,
// its one line naming the rank, pid and cause, and that no process of the
// job is left. The other ranks sleep for a minute, so a job that ends at
// all was torn down by gorun.
func TestEndingAJob(t *testing.T) {
	for _, tc := range []struct {
		name   string
		j      job
		status int
		line   string // a regexp gorun's first line must match
	}{
		{"exit status", job{np: 3, args: []string{"-mode", "exit", "-rank", "1", "-code", "3"}}, 3,
			`^gorun: rank 1 \(pid \d+\) exited with status 3$`},
		{"killed by a signal", job{np: 3, args: []string{"-mode", "signal", "-rank", "2"}}, 128 + 9,
			`^gorun: rank 2 \(pid \d+\) .*(SIGKILL|killed)`},
		{"panic", job{np: 2, args: []string{"-mode", "panic", "-rank", "1"}}, 2,
			`^gorun: rank 1 \(pid \d+\) .*status 2`},
		{"mpi.Abort", job{np: 4, args: []string{"-mode", "abort", "-rank", "3", "-code", "7"}}, 7,
			`^gorun: rank 3 \(pid \d+\) called mpi.Abort\(7\): the input is wrong$`},
		{"exit without Finalize", job{np: 3, args: []string{"-mode", "nofinalize", "-rank", "0"}}, 1,
			`^gorun: rank 0 \(pid \d+\) exited without calling mpi.Finalize$`},
		{"timeout", job{np: 2, flags: []string{"--timeout", "1s"}, args: []string{"-mode", "sleep"}}, 124,
			`^gorun: job timed out after 1s$`},
		{"deadlock", job{np: 2, args: []string{"-mode", "deadlock"}}, 1,
			`^gorun: deadlock: .*rank 0 in Recv\(source 1, tag 5\); rank 1 in Recv\(source 0, tag 5\)`},
		{"deadlock in a collective", job{np: 3, args: []string{"-mode", "collective-deadlock"}}, 1,
			`^gorun: deadlock: .*rank 0 in AllreduceSlice in shared memory; rank 1 in Recv\(source 0, tag 5\); rank 2 in AllreduceSlice in shared memory`},
		{"exit inside a collective", job{np: 4, args: []string{"-mode", "die-in-collective", "-rank", "2", "-code", "3"}}, 3,
			`^gorun: rank 2 \(pid \d+\) exited with status 3$`},
		{"SIGTERM to gorun", job{np: 3, args: []string{"-mode", "sleep"}, signal: syscall.SIGTERM}, 143,
			`^gorun: .*SIGTERM`},
		{"SIGINT to gorun", job{np: 2, args: []string{"-mode", "sleep"}, signal: syscall.SIGINT}, 130,
			`^gorun: .*SIGINT`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.j.prog = "behave"
			start := time.Now()
			res := runGorun(t, tc.j)
			took := time.Since(start)
			if res.code != tc.status {
				t.Errorf("exit status %d, want %d\nstderr:\n%s", res.code, tc.status, res.stderr)
			}
			// One line, or one line and details indented under it (the
			// state of each rank when the job timed out).
			g := gorunLines(res.stderr)
			if len(g) == 0 || !regexp.MustCompile(tc.line).MatchString(g[0]) {
				t.Errorf("gorun said %q, want a line matching %s", g, tc.line)
			}
			for _, l := range g[min(1, len(g)):] {
				if !strings.HasPrefix(l, "gorun:   ") {
					t.Errorf("gorun said more than one thing: %q", g)
				}
			}
			if took > 45*time.Second {
				t.Errorf("the job took %v to end: gorun did not tear it down", took)
			}
			noProcessLeft(t, res)
		})
	}
}

// TestGorunKilledTakesItsRanksAlong kills gorun with SIGKILL, which it
// cannot catch: the ranks must notice and exit on their own.
func TestGorunKilledTakesItsRanksAlong(t *testing.T) {
	t.Parallel()
	marker := newMarker()
	up := false
	res, err := gorunner.Run(gorunner.Job{Gorun: bin("gorun"), NP: 3, Program: bin("behave"), Args: []string{"-mode", "sleep"},
		Env: []string{"GORUN_TEST_MARKER=" + marker, "TMPDIR=" + binDir}, Timeout: waitLimit,
		WhenUp: func(gorun *os.Process) {
			deadline := time.Now().Add(30 * time.Second)
			for !up && time.Now().Before(deadline) {
				up = len(processesWith("GORUN_TEST_MARKER="+marker)) >= 4 // gorun and its 3 ranks
				time.Sleep(20 * time.Millisecond)
			}
			gorun.Kill()
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !up {
		t.Fatalf("gorun and its 3 ranks were never all running; stderr: %q", res.Stderr)
	}
	if res.ExitCode != -1 {
		t.Errorf("gorun's exit status %d after SIGKILL, want -1 (killed by a signal)", res.ExitCode)
	}
	noProcessLeft(t, result{marker: marker})
}

// TestRankPidsAreReal checks the pids gorun names against the ranks'
// own report, so the "rank N (pid P)" lines can be trusted.
func TestRankPidsAreReal(t *testing.T) {
	t.Parallel()
	res := runGorun(t, job{np: 2, prog: "behave", args: []string{"-mode", "exit", "-rank", "1", "-code", "5"}})
	m := regexp.MustCompile(`rank 1 \(pid (\d+)\)`).FindStringSubmatch(res.stderr)
	if m == nil {
		t.Fatalf("no pid named:\n%s", res.stderr)
	}
	pid, _ := strconv.Atoi(m[1])
	if !strings.Contains(res.stderr, fmt.Sprintf("pid 1 %d\n", pid)) {
		t.Fatalf("gorun named pid %d, but rank 1 said otherwise:\n%s", pid, res.stderr)
	}
}
