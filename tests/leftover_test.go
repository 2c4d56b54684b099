package tests

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// TestLeftoverHoldingAPipeLosesNoOutput: a rank's child that left the
// rank's process group holds the rank's stdout open after the job, asleep
// or writing without end. gorun forwards every line the ranks wrote, then
// ends the job (status 0) without waiting for the child, locally and on
// an agent.
func TestLeftoverHoldingAPipeLosesNoOutput(t *testing.T) {
	t.Parallel()
	for _, spam := range []bool{false, true} {
		args := []string{"-mode", "escape", "-n", "3000"}
		if spam {
			args = append(args, "-spam")
		}
		t.Run(fmt.Sprintf("local/spam=%v", spam), func(t *testing.T) {
			res := runGorun(t, job{np: 2, prog: "behave", args: args})
			killLeftovers(res.stderr)
			if res.code != 0 {
				t.Fatalf("exit status %d, want 0\nstderr:\n%s", res.code, res.stderr)
			}
			checkRankLines(t, res.stdout, "", 2, 3000)
			noProcessLeft(t, res)
		})
		t.Run(fmt.Sprintf("agents/spam=%v", spam), func(t *testing.T) {
			r := newHostsRig(t, map[string]int{"a": 1, "b": 1})
			stdout, stderr, code := r.launch(t, append([]string{"-np", "2", "--nats", r.URL(), "--hosts", "a:1,b:1", "--tag-output", bin("behave")}, args...)...)
			killLeftovers(stderr)
			if code != 0 {
				t.Fatalf("exit status %d, want 0\nstderr:\n%s", code, stderr)
			}
			checkRankLines(t, stdout, "[%d] ", 2, 3000)
			if t.Failed() {
				t.Logf("gorun's stderr:\n%s", stderr)
			}
		})
	}
}

// killLeftovers kills the children that behave -mode escape reported on
// stderr ("rank R leftover PID").
func killLeftovers(stderr string) {
	for _, l := range lines(stderr) {
		i := strings.Index(l, "rank ")
		if i < 0 {
			continue
		}
		var rank, pid int
		if _, err := fmt.Sscanf(l[i:], "rank %d leftover %d", &rank, &pid); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// checkRankLines checks that each of np ranks printed its n lines of
// behave's lines mode ("rank R line I xxx...") in order, whole, each
// line starting with tag (a format with the rank, or "").
func checkRankLines(t *testing.T, stdout, tag string, np, n int) {
	t.Helper()
	for rank := range np {
		prefix := fmt.Sprintf("rank %d line ", rank)
		if tag != "" {
			prefix = fmt.Sprintf(tag, rank) + prefix
		}
		got := 0
		for _, l := range lines(stdout) {
			if !strings.HasPrefix(l, prefix) {
				continue
			}
			var i int
			fmt.Sscanf(l[len(prefix):], "%d", &i)
			if want := strings.Repeat("x", 50+i%200); !strings.HasSuffix(l, " "+want) || i != got {
				t.Fatalf("rank %d: line %d out of order or torn: %.80q", rank, got, l)
			}
			got++
		}
		if got != n {
			t.Errorf("rank %d: %d lines of %d arrived", rank, got, n)
		}
	}
}
