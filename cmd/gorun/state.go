package main

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/gorun-mpi/gorun/internal/control"
)

// failure is why a job ends early: the line gorun prints (without the
// "gorun: " prefix) and gorun's exit status.
type failure struct {
	reason string
	status int
}

// exitInfo is how a rank's process ended.
type exitInfo struct {
	code     int            // exit status, when !signaled
	signaled bool           // killed by a signal
	signal   syscall.Signal // which one
	lost     string         // the rank's host was lost: why (the whole failure line)
}

// rankState is what the launcher knows of one rank.
type rankState struct {
	pid       int
	host      string // the agent running it; "" on this host
	hello     bool   // connected to the control channel (called mpi.Init)
	connOpen  bool   // its control connection has not ended yet
	finalized bool
	aborted   bool
	exited    bool
	exit      exitInfo
	judged    bool // its exit was examined (possibly waiting for connOpen)
	failed    bool // it was found at fault (reported once)

	blocked        bool   // asleep in a blocking call, per its last report
	op             string // that call
	sent, received []uint64
	waits          []control.Wait      // the calls of the last blocked report
	unmatched      []control.Unmatched // messages waiting for a receive, per that report
	reports        uint64              // blocked, running and finalized messages so far
	confirmed      uint64              // the last confirm round it answered yes to
}

// jobState is the launcher's view of all ranks, fed with events by the
// supervisor. It is a plain state machine: no goroutines, no clocks.
type jobState struct {
	ranks []rankState
}

func newJobState(np int) *jobState {
	return &jobState{ranks: make([]rankState, np)}
}

// started records a rank's process id.
func (j *jobState) started(rank, pid int) { j.ranks[rank].pid = pid }

// startedOn records the process id of a rank that runs on agent host.
func (j *jobState) startedOn(rank, pid int, host string) {
	j.ranks[rank].pid, j.ranks[rank].host = pid, host
}

// neverStarted records that ranks from rank on were not started (an
// earlier one could not be): they count as gone.
func (j *jobState) neverStarted(rank int) {
	for i := rank; i < len(j.ranks); i++ {
		j.ranks[i].exited, j.ranks[i].judged = true, true
	}
}

// who names a rank in messages: "rank 2 (pid 12345)".
func (j *jobState) who(rank int) string {
	if h := j.ranks[rank].host; h != "" {
		return fmt.Sprintf("rank %d (pid %d on %s)", rank, j.ranks[rank].pid, h)
	}
	return fmt.Sprintf("rank %d (pid %d)", rank, j.ranks[rank].pid)
}

// message applies a control message; an Abort is a failure.
func (j *jobState) message(rank int, m control.Message) *failure {
	r := &j.ranks[rank]
	if m.Sent != nil || m.Received != nil {
		r.sent, r.received = m.Sent, m.Received
	}
	switch m.Type {
	case control.TypeHello:
		r.hello, r.connOpen = true, true
	case control.TypeFinalized:
		r.finalized, r.blocked = true, false
		r.reports++
	case control.TypeBlocked:
		r.blocked, r.op, r.waits, r.unmatched = true, m.Op, m.Waits, m.Unmatched
		r.reports++
	case control.TypeRunning:
		r.blocked = false
		r.reports++
	case control.TypeConfirmed:
		if m.OK {
			r.confirmed = m.Round
		}
	case control.TypeAbort:
		if r.aborted || r.failed {
			return nil
		}
		r.aborted, r.failed = true, true
		status := m.Code
		if status < 1 || status > 255 {
			status = 1
		}
		return &failure{reason: fmt.Sprintf("%s called mpi.Abort(%d): %s", j.who(rank), m.Code, m.Reason), status: status}
	}
	return nil
}

// connClosed records the end of a rank's control connection. If the rank
// already exited, its exit can now be judged.
func (j *jobState) connClosed(rank int) *failure {
	r := &j.ranks[rank]
	r.connOpen = false
	if r.exited {
		return j.judge(rank)
	}
	return nil
}

// exited records a rank's exit. A rank whose control connection already
// ended is judged at once: everything it said has been heard. When the
// connection is still open, messages it sent just before exiting
// (Finalize, Abort) may still be on their way: judging waits for the
// connection's end (wait is true), or for the supervisor to give up
// waiting (graceOver). A rank not heard from at all may have connected and
// said hello, Abort and goodbye in a moment the launcher has not read yet
// (a loaded machine): judging waits for the control server to show that
// it has read every connection made before the exit (synced).
func (j *jobState) exited(rank int, e exitInfo) (f *failure, wait bool) {
	r := &j.ranks[rank]
	r.exited, r.exit = true, e
	if (r.hello && !r.connOpen) || e.lost != "" {
		return j.judge(rank), false
	}
	return nil, true
}

// synced judges an exited rank not heard from, once the control server has
// read every connection made before its exit: it never connected. A rank
// heard from meanwhile is judged when its connection ends.
func (j *jobState) synced(rank int) *failure {
	r := &j.ranks[rank]
	if r.judged || r.hello {
		return nil
	}
	return j.judge(rank)
}

// graceOver judges an exited rank once the supervisor stops waiting for its
// last control messages.
func (j *jobState) graceOver(rank int) *failure {
	r := &j.ranks[rank]
	switch {
	case r.judged:
		return nil
	case r.connOpen:
		return j.connClosed(rank)
	}
	return j.judge(rank)
}

// judge examines an exited rank whose control messages have all arrived.
func (j *jobState) judge(rank int) *failure {
	r := &j.ranks[rank]
	r.judged = true
	if r.failed {
		return nil
	}
	var f *failure
	switch {
	case r.exit.lost != "":
		f = &failure{reason: r.exit.lost, status: 1}
	case r.exit.signaled:
		f = &failure{reason: fmt.Sprintf("%s killed by signal %s", j.who(rank), signalName(r.exit.signal)),
			status: 128 + int(r.exit.signal)}
	case r.exit.code != 0:
		f = &failure{reason: fmt.Sprintf("%s exited with status %d", j.who(rank), r.exit.code), status: r.exit.code}
	case r.hello && !r.finalized:
		f = &failure{reason: j.who(rank) + " exited without calling mpi.Finalize", status: 1}
	default:
		return nil
	}
	r.failed = true
	return f
}

// done reports whether every rank exited and was judged.
func (j *jobState) done() bool {
	for i := range j.ranks {
		if !j.ranks[i].exited || !j.ranks[i].judged {
			return false
		}
	}
	return true
}

// allExited reports whether no rank's process is left.
func (j *jobState) allExited() bool {
	for i := range j.ranks {
		if !j.ranks[i].exited {
			return false
		}
	}
	return true
}

// deadlock reports whether the job looks deadlocked by the latest reports:
// every rank still running is blocked in an mpi call, and every frame any
// rank sent was received (an exited rank counts with the final counters it
// sent at Finalize). This is a candidate only: the supervisor then asks
// every live rank to confirm (see control.TypeConfirm), and declares the
// deadlock only when all of them confirm one round while fingerprint,
// which changes with every report, stays the same. desc lists the blocked
// calls. A rank that exited but is not judged yet holds the verdict back:
// its exit may be why the others wait (ranks that share memory learn of a
// peer's death from gorun, not from a socket), and it is the cause to
// report.
func (j *jobState) deadlock() (desc, fingerprint string, ok bool) {
	var running []int
	for i := range j.ranks {
		r := &j.ranks[i]
		if r.exited && !r.judged {
			return "", "", false
		}
		if r.exited {
			continue
		}
		if !r.hello || !r.blocked {
			return "", "", false
		}
		running = append(running, i)
	}
	if len(running) == 0 {
		return "", "", false
	}
	for i := range j.ranks {
		for k := range j.ranks {
			if count(j.ranks[i].sent, k) != count(j.ranks[k].received, i) {
				return "", "", false
			}
		}
	}
	var d, fp strings.Builder
	if len(running) == len(j.ranks) {
		d.WriteString("every rank is blocked: ")
	} else {
		d.WriteString("every rank still running is blocked: ")
	}
	for n, i := range running {
		r := &j.ranks[i]
		if n > 0 {
			d.WriteString("; ")
		}
		fmt.Fprintf(&d, "rank %d in %s", i, r.op)
		fmt.Fprintf(&fp, "%d:%d|", i, r.reports)
	}
	for i := range j.ranks {
		if j.ranks[i].exited {
			fmt.Fprintf(&fp, "%d:exited|", i)
		}
	}
	return d.String(), fp.String(), true
}

// live lists the ranks whose processes are still running.
func (j *jobState) live() []int {
	var ranks []int
	for i := range j.ranks {
		if !j.ranks[i].exited {
			ranks = append(ranks, i)
		}
	}
	return ranks
}

// confirmedAll reports whether every live rank answered yes to round.
func (j *jobState) confirmedAll(round uint64) bool {
	for _, i := range j.live() {
		if j.ranks[i].confirmed != round {
			return false
		}
	}
	return true
}

// count is counters[i], or 0 past the end of a short or missing report.
func count(counters []uint64, i int) uint64 {
	if i < len(counters) {
		return counters[i]
	}
	return 0
}

// stillRunning describes each rank whose process is alive, for the timeout
// report: what it was blocked in, if it said.
func (j *jobState) stillRunning() []string {
	var lines []string
	for i := range j.ranks {
		r := &j.ranks[i]
		switch {
		case r.exited:
		case r.blocked:
			lines = append(lines, fmt.Sprintf("%s was blocked in %s", j.who(i), r.op))
		case r.finalized:
			lines = append(lines, j.who(i)+" had called mpi.Finalize but not exited")
		default:
			lines = append(lines, j.who(i)+" was running (not blocked in an mpi call)")
		}
	}
	return lines
}

// signalNames maps the signals a rank is likely to die of to their names.
var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
	syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGSYS: "SIGSYS",
}

// signalName is "SIGSEGV" for SIGSEGV, "signal 40" for one without a name here.
func signalName(sig syscall.Signal) string {
	if name, ok := signalNames[sig]; ok {
		return name
	}
	return "signal " + strconv.Itoa(int(sig))
}
