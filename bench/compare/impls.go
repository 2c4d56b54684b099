package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// program is one of the benchmark programs every implementation has.
type program int

const (
	opsProgram program = iota
	initFinalizeProgram
	haversineProgram
)

// impl is one implementation under test: gorun or a peer.
type impl struct {
	name  string // short, for tables and legends
	about string // how it runs, for BENCHMARKS.md
	// command returns the argv of a job of np ranks running prog with args.
	command func(np int, prog program, args ...string) []string
}

// goProgramTags are the tags gorun builds a Go package with (its
// pureGoTags).
const goProgramTags = "-tags=netgo,osusergo"

// buildAll builds gorun and the Go programs, compiles the C twins and
// checks for mpi4py. It returns gorun first and then the peers found, and
// a line per peer that is not there.
func buildAll(benchDir, work, python string) ([]impl, []string, error) {
	// gorun as README.md installs it (CGO_ENABLED=0), and the programs as
	// gorun builds a package (pure Go's net and os/user: no C library).
	goBuild := func(out, pkg string) error {
		cmd := exec.Command("go", "build", "-o", filepath.Join(work, out), pkg)
		if out == "gorun" {
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		} else {
			cmd.Args = slices.Insert(cmd.Args, 2, goProgramTags)
		}
		cmd.Dir = benchDir
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
		}
		return nil
	}
	for out, pkg := range map[string]string{
		"gorun":        "github.com/gorun-mpi/gorun/cmd/gorun",
		"ops":          "./ops",
		"initfinalize": "./initfinalize",
		"haversine":    "github.com/gorun-mpi/gorun/examples/haversine",
	} {
		if err := goBuild(out, pkg); err != nil {
			return nil, nil, err
		}
	}
	bin := func(name string) string { return filepath.Join(work, name) }
	gorun := impl{
		name:  "gorun",
		about: "gorun, default (local) transport: `gorun -np N PROGRAM`",
		command: func(np int, prog program, args ...string) []string {
			names := map[program]string{opsProgram: "ops", initFinalizeProgram: "initfinalize", haversineProgram: "haversine"}
			return append([]string{bin("gorun"), "-np", itoa(np), bin(names[prog])}, args...)
		},
	}
	impls := []impl{gorun}
	var skipped []string

	mpirun, errRun := exec.LookPath("mpirun")
	mpicc, errCC := exec.LookPath("mpicc")
	if errRun != nil || errCC != nil {
		skipped = append(skipped, "Open MPI and mpi4py: mpirun or mpicc is not installed (Debian: apt-get install openmpi-bin libopenmpi-dev python3-mpi4py python3-numpy)")
		return impls, skipped, nil
	}
	for out, src := range map[string]string{
		"ops_c":          "ops/c/ops.c",
		"initfinalize_c": "initfinalize/c/initfinalize.c",
		"haversine_c":    "haversine/haversine.c",
	} {
		cmd := exec.Command(mpicc, "-O2", "-o", bin(out), src, "-lm")
		cmd.Dir = benchDir
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, nil, fmt.Errorf("mpicc %s: %w\n%s", src, err, b)
		}
	}
	launcher := []string{mpirun, "--oversubscribe"}
	if os.Geteuid() == 0 {
		launcher = append(launcher, "--allow-run-as-root")
	}
	cNames := map[program]string{opsProgram: "ops_c", initFinalizeProgram: "initfinalize_c", haversineProgram: "haversine_c"}
	peer := func(name, about string, mca ...string) impl {
		return impl{name: name, about: about, command: func(np int, prog program, args ...string) []string {
			argv := append(append(append([]string{}, launcher...), mca...), "-np", itoa(np), bin(cNames[prog]))
			return append(argv, args...)
		}}
	}
	impls = append(impls,
		peer("openmpi", "Open MPI, default transports (shared memory on one host), C: `mpirun "+strings.Join(launcher[1:], " ")+" -np N PROGRAM`"),
		peer("openmpi-tcp", "Open MPI over TCP, C: `mpirun "+strings.Join(launcher[1:], " ")+" --mca btl tcp,self -np N PROGRAM`", "--mca", "btl", "tcp,self"))

	if b, err := exec.Command(python, "-c", "import mpi4py, numpy").CombinedOutput(); err != nil {
		skipped = append(skipped, fmt.Sprintf("mpi4py: %s cannot import mpi4py and numpy (%v: %s); Debian: apt-get install python3-mpi4py python3-numpy", python, err, strings.TrimSpace(string(b))))
		return impls, skipped, nil
	}
	scripts := map[program][]string{
		opsProgram:          {filepath.Join(benchDir, "ops", "py", "ops.py")},
		initFinalizeProgram: {"-c", "from mpi4py import MPI"},
		haversineProgram:    {filepath.Join(benchDir, "haversine", "haversine.py")},
	}
	impls = append(impls, impl{
		name:  "mpi4py",
		about: "mpi4py (buffer API, numpy arrays) under Open MPI's default transports: `mpirun ... -np N " + python + " SCRIPT`",
		command: func(np int, prog program, args ...string) []string {
			argv := append(append([]string{}, launcher...), "-np", itoa(np), python)
			return append(append(argv, scripts[prog]...), args...)
		},
	})
	return impls, skipped, nil
}
