// Package gorunner runs jobs under the gorun launcher the way a user does,
// for the tests of tests/ and examples/: it builds gorun and programs, runs
// `gorun -np N [flags] PROGRAM [args]` with a time limit, and returns what
// the job printed and its exit status.
//
// # Usage
//
//	dir, _ := os.MkdirTemp("", "gorun-tests-")
//	err := gorunner.Build(dir, map[string]string{"gorun": "../cmd/gorun", "prog": "./progs/prog"})
//	res, err := gorunner.Run(gorunner.Job{Gorun: filepath.Join(dir, "gorun"), NP: 4, Program: filepath.Join(dir, "prog")})
package gorunner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Build builds each package of targets (name -> package path or import
// path) into dir/name with go build, naming the package and showing the
// compiler's output when one fails.
func Build(dir string, targets map[string]string) error {
	names := make([]string, 0, len(targets))
	for name := range targets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), targets[name])
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", targets[name], err, out)
		}
	}
	return nil
}

// Job says how to run gorun.
type Job struct {
	Gorun   string   // path of the gorun binary
	NP      int      // -np
	Flags   []string // gorun's flags before the program
	Program string   // the program's path
	Args    []string // the program's own arguments
	// Raw, when set, is gorun's whole argument list, as given (for usage
	// errors); NP, Flags, Program and Args are then ignored.
	Raw   []string
	Env   []string // extra environment ("NAME=value")
	Stdin string
	// Timeout bounds the job: gorun is killed after it and Run returns an
	// error wrapping ErrTimeout. 0 means DefaultTimeout.
	Timeout time.Duration
	// WhenUp, when set, is called once the ranks are up: when gorun's
	// stderr first shows a "pid " line (then after a short settling time),
	// or after upWait otherwise. Tests signal gorun or its ranks from it.
	WhenUp func(gorun *os.Process)
}

// DefaultTimeout is Job.Timeout's default: generous, for a loaded 2-core
// machine running more ranks than cores.
const DefaultTimeout = 90 * time.Second

// upWait bounds the wait for the first "pid" line; upSettle lets every
// rank come up after it.
const (
	upWait   = 10 * time.Second
	upSettle = 300 * time.Millisecond
)

// ErrTimeout: the job was still running after its Timeout and was killed.
var ErrTimeout = errors.New("gorunner: job still running after its time limit")

// Result is what a job printed and how gorun ended.
type Result struct {
	Stdout, Stderr string
	ExitCode       int // gorun's exit status; -1 if it was killed by a signal
}

// Lines returns the non-empty lines of s.
func Lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// CommandLine is the gorun command j runs, for messages.
func (j Job) CommandLine() string { return strings.Join(append([]string{"gorun"}, j.args()...), " ") }

func (j Job) args() []string {
	if j.Raw != nil {
		return j.Raw
	}
	args := append([]string{"-np", strconv.Itoa(j.NP)}, j.Flags...)
	return append(append(args, j.Program), j.Args...)
}

// Run runs j and waits for gorun to exit. A non-zero exit is no error (the
// caller checks ExitCode); an error means gorun could not start or outlived
// j.Timeout (then the error holds its output so far).
func Run(j Job) (Result, error) {
	limit := j.Timeout
	if limit <= 0 {
		limit = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, j.Gorun, j.args()...)
	cmd.Env = append(os.Environ(), j.Env...)
	cmd.Stdin = strings.NewReader(j.Stdin)
	var stdout bytes.Buffer
	stderr := newWatchedBuffer("pid ")
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("starting %s: %w", j.CommandLine(), err)
	}
	if j.WhenUp != nil {
		select {
		case <-stderr.seen:
			time.Sleep(upSettle)
		case <-time.After(upWait):
		}
		j.WhenUp(cmd.Process)
	}
	err := cmd.Wait()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("%w: %s after %v\nstdout:\n%s\nstderr:\n%s", ErrTimeout, j.CommandLine(), limit, res.Stdout, res.Stderr)
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	case err != nil:
		return res, fmt.Errorf("%s: %w", j.CommandLine(), err)
	}
	return res, nil
}
