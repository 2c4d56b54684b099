// Package tests runs gorun the way a user does: it builds the gorun binary
// and small programs (tests/progs) and checks exit statuses, output and
// that no process of a job outlives it.
package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitLimit bounds every job a test runs: generous, for a loaded 2-core
// machine running more ranks than cores.
const waitLimit = 90 * time.Second

// binDir holds the gorun binary and the test programs, built once.
var binDir string

func TestMain(m *testing.M) {
	// The package runs hundreds of real jobs: on 2 loaded cores it can
	// take more than go test's default 10 minutes. Each job is bounded on
	// its own (waitLimit), so a longer overall limit hides no hang.
	flag.Parse()
	if f := flag.Lookup("test.timeout"); f != nil && f.Value.String() == (10*time.Minute).String() {
		_ = flag.Set("test.timeout", (30 * time.Minute).String())
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gorun-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	targets := map[string]string{"gorun": "../cmd/gorun"}
	progs, _ := filepath.Glob("progs/*")
	for _, p := range progs {
		targets[filepath.Base(p)] = "./" + p
	}
	for name, pkg := range targets {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

// bin returns the path of a built binary: "gorun" or a program of progs/.
func bin(name string) string { return filepath.Join(binDir, name) }

// job says how to run gorun.
type job struct {
	np    int
	flags []string // gorun flags before the program
	prog  string   // a name from progs/, or a path
	args  []string // the program's arguments
	env   []string // extra environment
	stdin string
	// signal, when set, is sent to gorun once the ranks are up (after the
	// first "pid" line on stderr, or after a short delay).
	signal os.Signal
	// whenUp, when set, is called at that moment instead.
	whenUp func()
	// limit, when set, replaces waitLimit (a job known to be long).
	limit time.Duration
}

// result is how a job ended.
type result struct {
	stdout, stderr string
	code           int // gorun's exit status
	marker         string
}

// runGorun runs j under gorun and waits for it (failing the test after
// waitLimit). Every process of the job carries a unique marker in its
// environment, so noProcessLeft can look for leftovers.
func runGorun(t *testing.T, j job) result {
	t.Helper()
	prog := j.prog
	if !strings.Contains(prog, "/") {
		prog = bin(prog)
	}
	args := []string{"-np", fmt.Sprint(j.np)}
	args = append(args, j.flags...)
	args = append(append(args, prog), j.args...)
	limit := waitLimit
	if j.limit > 0 {
		limit = j.limit
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("gorun"), args...)
	marker := newMarker()
	cmd.Env = append(append(os.Environ(), "GORUN_TEST_MARKER="+marker), j.env...)
	cmd.Stdin = strings.NewReader(j.stdin)
	var stdout bytes.Buffer
	stderr := &signalingBuffer{seen: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting gorun: %v", err)
	}
	if j.signal != nil || j.whenUp != nil {
		select {
		case <-stderr.seen:
			time.Sleep(300 * time.Millisecond) // let every rank come up
		case <-time.After(10 * time.Second):
		}
		if j.whenUp != nil {
			j.whenUp()
		} else {
			cmd.Process.Signal(j.signal)
		}
	}
	err := cmd.Wait()
	res := result{stdout: stdout.String(), stderr: stderr.String(), marker: marker}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("gorun %s still running after %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), limit, res.stdout, res.stderr)
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("gorun %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// signalingBuffer is stderr that tells when the first "pid" line came. It
// does not embed bytes.Buffer, whose ReadFrom would bypass Write.
type signalingBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	seen   chan struct{}
	closed bool
}

func (b *signalingBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if !b.closed && strings.Contains(b.buf.String(), "pid ") {
		b.closed = true
		close(b.seen)
	}
	return n, err
}

func (b *signalingBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newMarker() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// noProcessLeft fails the test if any process still carries the job's
// marker, after a grace period for processes being reaped.
func noProcessLeft(t *testing.T, res result) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := processesWith("GORUN_TEST_MARKER=" + res.marker)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of the job still running: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processesWith lists the pids whose environment contains entry.
func processesWith(entry string) []string {
	var pids []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if err != nil {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if strings.Contains(string(stat), ") Z ") {
			continue // a zombie is gone, only not yet reaped
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if string(kv) == entry {
				pids = append(pids, d.Name())
				break
			}
		}
	}
	return pids
}

// lines returns the non-empty lines of s.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// gorunLines returns the lines gorun itself printed on stderr.
func gorunLines(stderr string) []string {
	var out []string
	for _, l := range lines(stderr) {
		if strings.HasPrefix(l, "gorun: ") {
			out = append(out, l)
		}
	}
	return out
}

// runGorunRaw runs gorun with exactly args (for usage errors).
func runGorunRaw(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("gorun"), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("gorun %v still running after %v", args, waitLimit)
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("gorun %v: %v", args, err)
	}
	return res
}
