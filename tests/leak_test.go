package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// leakJob is one kind of short job the leak test runs, and the exit status
// it must end with.
type leakJob struct {
	name   string
	flags  []string
	prog   string
	args   []string
	status int
}

// leakJobs are the kinds: a clean job, and jobs that fail in each way gorun
// ends a job (a rank exiting 3, a rank killed by SIGKILL, mpi.Abort, a
// --timeout).
var leakJobs = []leakJob{
	{name: "clean", prog: "target", args: []string{"-tiny"}, status: 0},
	{name: "rank exits 3", prog: "behave", args: []string{"-mode", "exit"}, status: 3},
	{name: "rank killed", prog: "behave", args: []string{"-mode", "signal"}, status: 128 + 9},
	{name: "abort", prog: "behave", args: []string{"-mode", "abort", "-code", "5"}, status: 5},
	{name: "timeout", flags: []string{"--timeout", "300ms"}, prog: "behave", args: []string{"-mode", "sleep"}, status: 124},
}

// leakAtOnce is how many of the leak test's jobs run at a time: two, so
// that one job's start meets another's end, and each gorun's scan for the
// directories of killed goruns meets a live job's directory (which it must
// leave alone), as when a user starts jobs side by side. It also takes the
// 1,000 jobs from 80-91 to 73-78 s on a quiet 2-core VM and from 153 to
// 120 s beside two CPU hogs (one at a time against two, alternated).
const leakAtOnce = 2

// TestThousandShortJobsLeaveNothing runs 1,000 short jobs of 4 ranks,
// leakAtOnce at a time (every 25th one failing, in turn, in each way of
// leakJobs) and checks that they leave nothing behind: no process, no
// descriptor of the test process (no memfd among them), no entry in the
// temporary directory (the jobs' directories, sockets and built programs).
// -short runs 50, every 10th failing.
func TestThousandShortJobsLeaveNothing(t *testing.T) {
	jobs, every := 1000, 25
	if testing.Short() {
		jobs, every = 50, 10
	}
	// A temporary directory of the jobs' own, so that other gorun jobs on
	// the machine do not count; short, for the sockets' path limit.
	tmp, err := os.MkdirTemp("", "gl-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	marker := newMarker()
	env := append(os.Environ(), "TMPDIR="+tmp, "GORUN_TEST_MARKER="+marker)
	fdsBefore := openFDs(t)
	shmBefore := dirNames("/dev/shm")

	kindOf := func(i int) leakJob {
		if i%every == every-1 {
			return leakJobs[1+(i/every)%(len(leakJobs)-1)]
		}
		return leakJobs[0]
	}
	start := time.Now()
	var (
		mu     sync.Mutex
		failed error // the first job that ended otherwise than it must
	)
	next := make(chan int)
	var wg sync.WaitGroup
	for range leakAtOnce {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				kind := kindOf(i)
				code, out, err := runShort(env, kind)
				if err == nil && code != kind.status {
					err = fmt.Errorf("exit status %d, want %d\n%s", code, kind.status, out)
				}
				if err != nil {
					mu.Lock()
					if failed == nil {
						failed = fmt.Errorf("job %d (%s): %w", i, kind.name, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	counts := map[string]int{}
	for i := 0; i < jobs; i++ {
		mu.Lock()
		stop := failed != nil
		mu.Unlock()
		if stop {
			break
		}
		counts[kindOf(i).name]++
		next <- i
	}
	close(next)
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	elapsed := time.Since(start)
	t.Logf("%d jobs in %v (%v each): %v", jobs, elapsed.Round(time.Millisecond), (elapsed / time.Duration(jobs)).Round(time.Microsecond), counts)

	noProcessLeft(t, result{marker: marker})
	if left := dirNames(tmp); len(left) > 0 {
		t.Errorf("left in the temporary directory: %v", left)
	}
	if left := newNames(shmBefore, dirNames("/dev/shm")); len(left) > 0 {
		t.Errorf("left in /dev/shm: %v", left)
	}
	// The runtime may hold a descriptor or two for a moment (a pipe being
	// closed by a finished Wait); give it that moment.
	var extra []string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		extra = newNames(fdsBefore, openFDs(t))
		if len(extra) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(extra) > 0 {
		t.Errorf("the test process has %d more descriptors open than before the jobs: %v", len(extra), extra)
	}
	for _, fd := range openFDs(t) {
		if strings.Contains(fd, "memfd:") {
			t.Errorf("the test process holds a memfd: %s", fd)
		}
	}
}

// runShort runs one short job of 4 ranks with env and returns gorun's exit
// status and its output, or why it could not run the job.
func runShort(env []string, j leakJob) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	args := append(append(append([]string{"-np", "4"}, j.flags...), bin(j.prog)), j.args...)
	cmd := exec.CommandContext(ctx, bin("gorun"), args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return 0, "", fmt.Errorf("gorun %s still running after %v\n%s", strings.Join(args, " "), waitLimit, out.String())
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String(), nil
	case err != nil:
		return 0, "", fmt.Errorf("gorun %s: %w", strings.Join(args, " "), err)
	}
	return 0, out.String(), nil
}

// openFDs lists the test process's open descriptors as "fd -> target".
func openFDs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var fds []string
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the descriptor ReadDir itself used
		}
		fds = append(fds, fmt.Sprintf("%s -> %s", e.Name(), target))
	}
	return fds
}

// dirNames lists the names in dir (none if it cannot be read).
func dirNames(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// newNames returns the names in after that are not in before, sorted.
func newNames(before, after []string) []string {
	had := map[string]bool{}
	for _, n := range before {
		had[n] = true
	}
	var extra []string
	for _, n := range after {
		if !had[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	return extra
}

// TestKilledGorunsDirectoryGoesWithTheNextJob: a gorun killed by SIGKILL
// cannot remove its job's directory (sockets, built program); the next
// gorun with the same temporary directory removes it.
func TestKilledGorunsDirectoryGoesWithTheNextJob(t *testing.T) {
	tmp, err := os.MkdirTemp("", "gk-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	env := []string{"TMPDIR=" + tmp}
	res := runGorun(t, job{np: 2, prog: "behave", args: []string{"-mode", "sleep"}, env: env, signal: syscall.SIGKILL})
	noProcessLeft(t, res)
	if left := dirNames(tmp); len(left) != 1 {
		t.Fatalf("after gorun was killed, its temporary directory holds %v, want its job's directory", left)
	}
	if res := runGorun(t, job{np: 2, prog: "target", args: []string{"-tiny"}, env: env}); res.code != 0 {
		t.Fatalf("the next job: exit status %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if left := dirNames(tmp); len(left) > 0 {
		t.Errorf("after the next job, the temporary directory still holds %v", left)
	}
}

// TestGorunKilledWhileBuildingLeavesNothing: a gorun killed while it
// builds the program (its job's directory made and marked, nothing
// listening in it yet) takes the go command with it, and the next gorun
// on the host removes the directory: its mark names a process gone from
// the pid namespace both goruns share.
func TestGorunKilledWhileBuildingLeavesNothing(t *testing.T) {
	tmp, err := os.MkdirTemp("", "gb-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	marker := newMarker()
	cmd := exec.Command(bin("gorun"), "-np", "2", "./progs/target", "-tiny")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "GORUN_TEST_MARKER="+marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(waitLimit)
	for {
		if marks, _ := filepath.Glob(filepath.Join(tmp, "gorun-*", "gorun.pid")); len(marks) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gorun made no marked job directory in %v", waitLimit)
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	noProcessLeft(t, result{marker: marker})
	// Job directories only: the go command, killed too, may have left
	// its work directory beside them (removed with tmp).
	jobDirs := func() []string {
		dirs, _ := filepath.Glob(filepath.Join(tmp, "gorun-*"))
		return dirs
	}
	left := jobDirs()
	if len(left) != 1 {
		t.Fatalf("after gorun was killed, its temporary directory holds job directories %v, want its job's", left)
	}
	if _, err := os.Lstat(filepath.Join(left[0], "control.sock")); err == nil {
		t.Fatalf("gorun listened before it was killed: the build did not take a millisecond")
	}
	if res := runGorun(t, job{np: 2, prog: "target", args: []string{"-tiny"}, env: []string{"TMPDIR=" + tmp}}); res.code != 0 {
		t.Fatalf("the next job: exit status %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if left := jobDirs(); len(left) > 0 {
		t.Errorf("after the next job, the temporary directory still holds job directories %v", left)
	}
}
