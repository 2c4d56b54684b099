package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// proc is one rank's running process and its output forwarding.
type proc struct {
	rank    int
	cmd     *exec.Cmd
	pid     int
	outR    *os.File      // read end of its stdout pipe
	errR    *os.File      // read end of its stderr pipe
	drained chan struct{} // closed when both pipes reached EOF (or were closed)
	drain   *pipeDrain    // when the pipes may be closed (pipe_drain.go)
}

// exitEvent reports that a rank's process ended.
type exitEvent struct {
	rank  int
	state *os.ProcessState
	err   error
	info  *exitInfo // how a rank on another host ended, as its agent reported
}

// rankEnv is the environment of one rank: gorun's own, without any job
// variables inherited from an enclosing job, plus this job's.
func rankEnv(base []string, job jobenv.Job, np, cpus int, syncSends bool) []string {
	own := map[string]bool{}
	for _, name := range []string{jobenv.Rank, jobenv.Size, jobenv.JobID, jobenv.Secret, jobenv.Dir,
		jobenv.Control, jobenv.Transport, jobenv.NatsURL, jobenv.NatsCreds, jobenv.NatsCA, jobenv.Shm, jobenv.Placement, jobenv.TimerSlack} {
		own[name] = true
	}
	env := make([]string, 0, len(base)+12)
	yieldSet, procsSet := false, false
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if own[name] {
			continue
		}
		switch name {
		case jobenv.Yield:
			yieldSet = true
		case "GOMAXPROCS":
			procsSet = true
		}
		env = append(env, kv)
	}
	if !procsSet {
		// Share the cores out, as mpirun binds ranks to cores: a rank with
		// more Go threads than its share of cores pays for a thread wake-up
		// on every message its background reader sees.
		env = append(env, "GOMAXPROCS="+strconv.Itoa(rankProcs(np, cpus)))
	}
	env = append(env, job.Environ()...)
	if syncSends {
		env = append(env, jobenv.SyncSends+"=1")
	}
	if np > cpus && !yieldSet {
		// Oversubscribed: a rank that polls must give its core to a peer
		// with work between polls.
		env = append(env, jobenv.Yield+"=1")
	}
	return env
}

// rankProcs is the GOMAXPROCS gorun gives each of np ranks on cpus CPUs.
func rankProcs(np, cpus int) int { return max(1, cpus/np) }

// oneProcPerRank says whether the ranks run Go with one P each: the
// GOMAXPROCS of the environment base when it sets one, gorun's otherwise.
func oneProcPerRank(base []string, np, cpus int) bool {
	for _, kv := range base {
		if value, ok := strings.CutPrefix(kv, "GOMAXPROCS="); ok {
			return value == "1" // as the runtime reads it: anything else is not one P
		}
	}
	return rankProcs(np, cpus) == 1
}

// startRank starts one rank of prog and the goroutines that forward its
// output and wait for its exit. A non-nil shared file becomes the rank's
// descriptor 3, named in its environment (jobenv.Shm); a non-nil traceBuf
// (gorun --trace) the next, named in jobenv.TraceFD. It must be called from the goroutine that
// stays locked to its OS thread for gorun's whole life: the parent-death
// signal fires when the thread that spawned the child exits.
func startRank(rank int, prog program, args, env []string, stdin, shared, traceBuf *os.File,
	stdout, stderr *stream, tag bool, exits chan<- exitEvent) (*proc, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("cannot start rank %d: stdout pipe: %w", rank, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("cannot start rank %d: stderr pipe: %w", rank, err)
	}
	cmd := &exec.Cmd{
		Path:   prog.path,
		Args:   append([]string{prog.argv0}, args...),
		Env:    env,
		Stdout: outW,
		Stderr: errW,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: syscall.SIGKILL,
		},
	}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if shared != nil {
		cmd.ExtraFiles = []*os.File{shared}
		cmd.Env = append(cmd.Env[:len(cmd.Env):len(cmd.Env)], jobenv.Shm+"=3")
	}
	if traceBuf != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, traceBuf)
		cmd.Env = append(cmd.Env[:len(cmd.Env):len(cmd.Env)], jobenv.TraceFD+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
	}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("cannot start rank %d (%s): %w", rank, prog.argv0, err)
	}
	p := &proc{rank: rank, cmd: cmd, pid: cmd.Process.Pid, outR: outR, errR: errR, drained: make(chan struct{}), drain: newPipeDrain()}
	var prefix []byte
	if tag {
		prefix = rankPrefix(rank)
	}
	pipeDone := make(chan struct{}, 2)
	for _, pair := range []struct {
		r *os.File
		s *stream
	}{{outR, stdout}, {errR, stderr}} {
		go func() {
			forward(countingReader{pair.r, &p.drain.read}, pair.s, prefix)
			pair.r.Close()
			pipeDone <- struct{}{}
		}()
	}
	go func() {
		<-pipeDone
		<-pipeDone
		close(p.drained)
	}()
	go func() {
		err := cmd.Wait()
		exits <- exitEvent{rank: rank, state: cmd.ProcessState, err: err}
	}()
	return p, nil
}

// closePipes unblocks the forwarders of a rank whose pipes are held open by
// a process outside our reach; what was not read yet is lost, so callers
// close them only when the pipe drain allows (see closeWhenDrained).
func (p *proc) closePipes() {
	p.outR.Close()
	p.errR.Close()
}

// signalGroup sends sig to the process group the rank leads (the rank and
// any children it started).
func signalGroup(pid int, sig syscall.Signal) {
	if pid > 0 {
		_ = syscall.Kill(-pid, sig)
	}
}

// exitOf reads how a process ended.
func exitOf(e exitEvent) exitInfo {
	if e.info != nil {
		return *e.info
	}
	if e.state != nil {
		if ws, ok := e.state.Sys().(syscall.WaitStatus); ok {
			if ws.Signaled() {
				return exitInfo{signaled: true, signal: ws.Signal()}
			}
			return exitInfo{code: ws.ExitStatus()}
		}
		return exitInfo{code: e.state.ExitCode()}
	}
	return exitInfo{code: 1}
}

// startStatus is gorun's exit status when a rank cannot be started, as a
// shell would give: 127 when the file is missing, else 126.
func startStatus(err error) int {
	if errors.Is(err, fs.ErrNotExist) {
		return 127
	}
	return 126
}

// rank0Stdin is what rank 0 reads as its standard input: gorun's own,
// passed as is, except a terminal, which is copied through a pipe (a rank
// lives in its own process group, and a background group that reads the
// terminal is stopped by SIGTTIN). The copying goroutine ends when the
// terminal gives EOF or rank 0 stops reading, or with gorun.
func rank0Stdin(in *os.File) (stdin *os.File, closeAfterStart func(), err error) {
	if !isTerminal(in) {
		return in, func() {}, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot forward the terminal to rank 0: %w", err)
	}
	go func() {
		_, _ = io.Copy(w, in)
		w.Close()
	}()
	return r, func() { r.Close() }, nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var errno syscall.Errno
	ctlErr := rc.Control(func(fd uintptr) {
		var t syscall.Termios
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	})
	return ctlErr == nil && errno == 0
}
