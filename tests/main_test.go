// Package tests runs gorun the way a user does: it builds the gorun binary
// and small programs (tests/progs) and checks exit statuses, output and
// that no process of a job outlives it.
package tests

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/internal/gorunner"
)

// waitLimit bounds every job a test runs: generous, for a loaded 2-core
// machine running more ranks than cores.
const waitLimit = 90 * time.Second

// binDir holds the gorun binary and the test programs, built once.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// parallelDefault is how many tests marked t.Parallel run at once unless
// -test.parallel says otherwise. Go's default is GOMAXPROCS, 2 on a 2-core
// machine, but the parallel tests here (the multi-host ones above all)
// spend much of their time waiting: for heartbeats and leases to run out,
// for a sleeping receiver, for an attack's timeout. Four at once (with the
// collectives program's cheaper checks) took the package from 648 to 470 s
// beside two CPU hogs on a 2-core AMD EPYC VM. Tests not marked parallel
// still run one at a time, before them: TestThousandShortJobsLeaveNothing
// counts the test process's descriptors, and the suites' jobs mostly
// compute.
const parallelDefault = 4

func runMain(m *testing.M) int {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		if err := flag.Set("test.parallel", strconv.Itoa(parallelDefault)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	dir, err := os.MkdirTemp("", "gorun-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The multi-host tests' tools (rigBinaries), some 80 MB, built once
	// when the first of them runs.
	defer func() {
		if rigTools != "" {
			os.RemoveAll(rigTools)
		}
	}()
	binDir = dir
	// gorun-natsd beside gorun, where gorun looks for the server it runs
	// for --transport nats without a URL and agent --serve.
	targets := map[string]string{"gorun": "../cmd/gorun", "gorun-natsd": "../cmd/gorun-natsd"}
	progs, _ := filepath.Glob("progs/*")
	for _, p := range progs {
		targets[filepath.Base(p)] = "./" + p
	}
	if err := gorunner.Build(dir, targets); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
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
	// whenUp, when set, is called at that moment instead, with gorun's
	// process.
	whenUp func(gorun *os.Process)
	// limit, when set, replaces waitLimit (a job known to be long).
	limit time.Duration
}

// result is how a job ended.
type result struct {
	stdout, stderr string
	code           int // gorun's exit status
	marker         string
}

// runGorun runs j under gorun (internal/gorunner, which the examples'
// tests use too) and waits for it, failing the test after waitLimit. Every
// process of the job carries a unique marker in its environment, so
// noProcessLeft can look for leftovers.
func runGorun(t *testing.T, j job) result {
	t.Helper()
	prog := j.prog
	if !strings.Contains(prog, "/") {
		prog = bin(prog)
	}
	limit := waitLimit
	if j.limit > 0 {
		limit = j.limit
	}
	marker := newMarker()
	// The job's directory goes in the binaries' directory, which TestMain
	// removes: what a gorun a test kills leaves stays out of the machine's
	// temporary directory, whose scan by every later launch it would
	// lengthen (a job's own TMPDIR wins).
	run := gorunner.Job{Gorun: bin("gorun"), NP: j.np, Flags: j.flags, Program: prog, Args: j.args,
		Env: append([]string{"GORUN_TEST_MARKER=" + marker, "TMPDIR=" + binDir}, j.env...), Stdin: j.stdin, Timeout: limit}
	switch {
	case j.whenUp != nil:
		run.WhenUp = j.whenUp
	case j.signal != nil:
		run.WhenUp = func(gorun *os.Process) { gorun.Signal(j.signal) }
	}
	res, err := gorunner.Run(run)
	if err != nil {
		t.Fatal(err)
	}
	return result{stdout: res.Stdout, stderr: res.Stderr, code: res.ExitCode, marker: marker}
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
func lines(s string) []string { return gorunner.Lines(s) }

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
	res, err := gorunner.Run(gorunner.Job{Gorun: bin("gorun"), Raw: args, Env: []string{"TMPDIR=" + binDir}, Timeout: waitLimit})
	if err != nil {
		t.Fatal(err)
	}
	return result{stdout: res.Stdout, stderr: res.Stderr, code: res.ExitCode}
}

// parentPid is pid's parent's pid, "" if pid is gone.
func parentPid(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return ""
	}
	// "pid (comm) state ppid ...": the command may hold spaces.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return ""
	}
	return fields[1]
}

// processName is pid's command name, "" if pid is gone.
func processName(pid string) string {
	b, _ := os.ReadFile("/proc/" + pid + "/comm")
	return strings.TrimSpace(string(b))
}

// childNamed is the pid of a child of parent whose command is name, ""
// when there is none.
func childNamed(parent int, name string) string {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if parentPid(d.Name()) == strconv.Itoa(parent) && processName(d.Name()) == name {
			return d.Name()
		}
	}
	return ""
}
