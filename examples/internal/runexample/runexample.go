// Package runexample builds gorun and an example program and runs the
// example under gorun, the way a user would, for the examples' tests.
package runexample

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timeout bounds one run: generous, for a loaded 2-core machine.
const Timeout = 2 * time.Minute

// Result is what a run printed and how it ended.
type Result struct {
	Stdout, Stderr string
	ExitCode       int // -1 if gorun was killed by a signal
}

// Lines returns the non-empty lines of Stdout.
func (r Result) Lines() []string {
	var out []string
	for _, l := range strings.Split(r.Stdout, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Options says how to run an example.
type Options struct {
	NP         int      // -np
	Args       []string // the example's own arguments
	GorunFlags []string // extra gorun flags, e.g. --tag-output
	Env        []string // extra environment, e.g. GORUN_EAGER_LIMIT=1024
	Stdin      string
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Main runs the tests of an example package and removes the binaries
// built for them. Call it from the package's TestMain:
//
//	func TestMain(m *testing.M) { runexample.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binaries builds gorun and the example in the test's working directory,
// once per test binary, into a directory Main removes.
func binaries(t testing.TB) (gorun, prog string) {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gorun-example-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		for _, b := range [][2]string{{"gorun", "github.com/gorun-mpi/gorun/cmd/gorun"}, {"example", "."}} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b[0]), b[1])
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = errors.New("go build " + b[1] + ": " + err.Error() + "\n" + string(out))
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "gorun"), filepath.Join(buildDir, "example")
}

// Run builds (once) and runs the example of the current package under
// gorun with opts, failing the test if it cannot start or outlives Timeout.
// A non-zero exit is not a failure here: the caller checks ExitCode.
func Run(t testing.TB, opts Options) Result {
	t.Helper()
	gorun, prog := binaries(t)
	args := append([]string{"-np", strconv.Itoa(opts.NP)}, opts.GorunFlags...)
	args = append(append(args, prog), opts.Args...)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gorun, args...)
	cmd.Env = append(cmd.Environ(), opts.Env...)
	cmd.Stdin = strings.NewReader(opts.Stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("gorun %s: still running after %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), Timeout, res.Stdout, res.Stderr)
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	case err != nil:
		t.Fatalf("gorun %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// MustSucceed runs like Run and fails the test unless gorun exits 0.
func MustSucceed(t testing.TB, opts Options) Result {
	t.Helper()
	res := Run(t, opts)
	if res.ExitCode != 0 {
		t.Fatalf("-np %d %v: exit status %d\nstdout:\n%s\nstderr:\n%s", opts.NP, opts.Args, res.ExitCode, res.Stdout, res.Stderr)
	}
	return res
}
