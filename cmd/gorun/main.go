// Command gorun runs an MPI-style job: N processes (ranks) of one program,
// wired together so that they can exchange messages with package mpi.
//
//	gorun -np N [flags] PROGRAM [ARGS...]
//
// PROGRAM is an executable, a command in PATH, or a Go package (a directory
// or an import path) that gorun builds first. gorun forwards every rank's
// output line by line, gives its own standard input to rank 0, and ends the
// whole job when any rank fails, naming the rank and the cause. Run
// "gorun --help" for the flags and exit statuses.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/launchtrace"
)

// controlSocket names the launcher's control socket in the job's directory.
const controlSocket = "control.sock"

// maxSocketDir keeps the job's socket paths under the Unix limit (108 bytes
// including "/r<rank>.sock").
const maxSocketDir = 80

func main() {
	// The ranks' parent-death signal fires when the OS thread that spawned
	// them exits: keep the main goroutine, which spawns them, on one thread
	// for gorun's whole life.
	runtime.LockOSThread()
	os.Exit(run(os.Args[1:]))
}

// run is gorun: it returns the exit status, having removed what it made.
func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "agent":
			return runAgent(args[1:])
		case "agents":
			return runAgents(args[1:])
		}
	}
	stamps := launchtrace.New("gorun", os.Getenv, os.Stderr)
	stamps.Mark("main")
	cfg, err := parseFlags(args, os.Getenv)
	if errors.Is(err, errHelp) {
		printUsage(os.Stdout)
		return 0
	}
	if err != nil {
		return usageFailure(err)
	}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	defer signal.Stop(sigs)
	stderr := newStream(os.Stderr, nil)
	broken := make(chan error, 1)
	stdout := newStream(os.Stdout, func(err error) {
		select {
		case broken <- err:
		default:
		}
	})

	dir, err := newJobDir()
	if err != nil {
		stderr.line("gorun: " + err.Error())
		return 1
	}
	defer func() {
		os.RemoveAll(dir)
		stamps.Mark("job directory removed")
	}()
	if err := markJobDir(dir); err != nil {
		stderr.line("gorun: " + err.Error())
		return 1
	}
	stamps.Mark("job directory made")
	// Leftovers of killed goruns are removed beside the launch, not before
	// it: the scan reads every gorun-N directory of the temporary
	// directory, a millisecond or more that the job need not wait for.
	staleDone := make(chan struct{})
	go func() {
		defer close(staleDone)
		removeStaleJobDirs(filepath.Dir(dir))
		stamps.Mark("stale job directories scanned")
	}()
	defer func() { <-staleDone }()

	// The directory for a program gorun builds is made only to build one.
	bin := filepath.Join(dir, "bin")
	prog, err := resolveProgram(cfg.program, bin, os.Stderr)
	if err != nil {
		if status, ok := interruptedDuringSetup(sigs, stderr); ok {
			return status
		}
		stderr.line("gorun: " + err.Error())
		return programStatus(err)
	}
	if status, ok := interruptedDuringSetup(sigs, stderr); ok {
		return status
	}
	stamps.Mark("program resolved")

	job, err := newJob(dir, cfg)
	if err != nil {
		stderr.line("gorun: " + err.Error())
		return 1
	}
	tracer, err := newTraceCollector(cfg.traceFile, cfg.np, os.Getenv)
	if err != nil {
		return usageFailure(err)
	}
	tracer.relaxGC(os.Getenv)
	if cfg.hosts.enabled() {
		return runHosts(cfg, prog, job, tracer, stdout, stderr, sigs, broken)
	}
	server, err := control.Listen(job.Control, job.Secret, cfg.np)
	if err != nil {
		stderr.line("gorun: " + err.Error())
		return 1
	}
	defer server.Close()
	stamps.Mark("control server listening")
	defer stamps.Mark("control server closed")
	sup := newSupervisor(cfg, prog, job, server, stdout, stderr, sigs, broken)
	sup.trace = tracer
	sup.stamps = stamps
	return sup.run()
}

// interruptedDuringSetup reports a signal that arrived before any rank
// started (e.g. Ctrl-C during a long build).
func interruptedDuringSetup(sigs <-chan os.Signal, stderr *stream) (int, bool) {
	for {
		select {
		case sig := <-sigs:
			n, ok := sig.(syscall.Signal)
			if !ok || n == syscall.SIGPIPE {
				continue
			}
			stderr.line(fmt.Sprintf("gorun: interrupted (%s)", signalName(n)))
			return 128 + int(n), true
		default:
			return 0, false
		}
	}
}

// newJobDir makes the job's private (0700) directory for its sockets and
// built program, short enough for Unix socket paths.
func newJobDir() (string, error) {
	dir, err := os.MkdirTemp("", "gorun-")
	if err == nil && len(dir) <= maxSocketDir {
		return dir, nil
	}
	if err == nil {
		os.Remove(dir)
	}
	dir, err2 := os.MkdirTemp("/tmp", "gorun-")
	if err2 != nil {
		if err == nil {
			err = err2
		}
		return "", fmt.Errorf("cannot make the job's temporary directory: %w", err)
	}
	return dir, nil
}

// newJob describes the job: a random id and secret, its directory and
// control socket. Rank and Size are filled in per rank.
func newJob(dir string, cfg config) (jobenv.Job, error) {
	id, err := randomHex(8)
	if err != nil {
		return jobenv.Job{}, err
	}
	secret, err := randomHex(32)
	if err != nil {
		return jobenv.Job{}, err
	}
	return jobenv.Job{
		Size:      cfg.np,
		JobID:     id,
		Secret:    secret,
		Dir:       dir,
		Control:   filepath.Join(dir, controlSocket),
		Transport: cfg.transport,
	}, nil
}

// randomHex is n random bytes from crypto/rand, in hex.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("cannot draw random bytes for the job id and secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}
