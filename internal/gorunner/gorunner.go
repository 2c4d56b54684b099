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
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Build builds each package of targets (name -> package path or import
// path) into dir/name with go build, naming the package and showing the
// compiler's output when one fails.
//
// They are built as users get them: with CGO_ENABLED=0, as README.md
// installs gorun, which gives the programs it builds Go's own net and
// os/user (build_tags.go in cmd/gorun). With a C compiler on the machine, a
// plain go build links those two packages to the C library, and every
// process then starts through the dynamic linker: on a 2-core VM whose
// page faults cost 12-19 us, gorun took 20.8 ms to reject a flag instead
// of 17.4, a program that calls Init and Finalize alone 24.0 instead of
// 19.7, and TestThousandShortJobsLeaveNothing 119.5 s instead of 94.8.
//
// The packages are built by one go build, which loads them once and links
// them in parallel, then renamed: the tests package's TestMain built its
// twenty-odd programs one go build at a time, 64 s under two CPU hogs on
// a 2-core machine. Targets whose binaries go build would name alike are
// built one at a time.
func Build(dir string, targets map[string]string) error {
	names := make([]string, 0, len(targets))
	byDefault := map[string]string{} // go build's own binary name -> ours
	for name, pkg := range targets {
		names = append(names, name)
		byDefault[defaultBinary(pkg)] = name
	}
	sort.Strings(names)
	if len(byDefault) < len(targets) {
		for _, name := range names {
			if err := goBuild(filepath.Join(dir, name), targets[name]); err != nil {
				return err
			}
		}
		return nil
	}
	out, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	pkgs := make([]string, 0, len(names))
	for _, name := range names {
		pkgs = append(pkgs, targets[name])
	}
	if err := goBuild(out+string(filepath.Separator), pkgs...); err != nil {
		return err
	}
	for built, name := range byDefault {
		if err := os.Rename(filepath.Join(out, built), filepath.Join(dir, name)); err != nil {
			// Not where go build puts it by our guess (defaultBinary):
			// build it alone.
			if err := goBuild(filepath.Join(dir, name), targets[name]); err != nil {
				return err
			}
		}
	}
	return nil
}

// BuildCommand is `go build args...` as Build runs it, with CGO_ENABLED=0
// (see Build), for a caller that sets its directory or adds to its
// environment (cmd.Env holds this process's already).
func BuildCommand(args ...string) *exec.Cmd {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd
}

// goBuild runs go build -o out on pkgs.
func goBuild(out string, pkgs ...string) error {
	cmd := BuildCommand(append([]string{"-o", out}, pkgs...)...)
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, output)
	}
	return nil
}

// defaultBinary is the name go build gives the binary of pkg, a package
// path ("./progs/p", "..", ".") or an import path: the last element.
func defaultBinary(pkg string) string {
	if pkg == "." || pkg == ".." || strings.HasPrefix(pkg, "./") || strings.HasPrefix(pkg, "../") || filepath.IsAbs(pkg) {
		if abs, err := filepath.Abs(pkg); err == nil {
			return filepath.Base(abs)
		}
	}
	return path.Base(pkg)
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
