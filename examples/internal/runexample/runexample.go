// Package runexample builds gorun and an example program and runs the
// example under gorun, the way a user would, for the examples' tests. It
// runs them with internal/gorunner, as tests/ does.
package runexample

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/internal/gorunner"
)

// Timeout bounds one run: generous, for a loaded 2-core machine.
const Timeout = 2 * time.Minute

// Result is what a run printed and how it ended.
type Result struct {
	Stdout, Stderr string
	ExitCode       int // -1 if gorun was killed by a signal
}

// Lines returns the non-empty lines of Stdout.
func (r Result) Lines() []string { return gorunner.Lines(r.Stdout) }

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
		buildErr = gorunner.Build(dir, map[string]string{"gorun": "github.com/gorun-mpi/gorun/cmd/gorun",
			"gorun-natsd": "github.com/gorun-mpi/gorun/cmd/gorun-natsd", "example": "."})
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
	res, err := gorunner.Run(gorunner.Job{Gorun: gorun, NP: opts.NP, Flags: opts.GorunFlags, Program: prog,
		Args: opts.Args, Env: opts.Env, Stdin: opts.Stdin, Timeout: Timeout})
	if err != nil {
		t.Fatal(err)
	}
	return Result{Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode}
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
