package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/launchtrace"
)

// Timing of the job's end. A failed job is down within killGrace plus the
// time SIGKILL takes; the API promises 2 s.
const (
	killGrace    = 1 * time.Second        // SIGTERM, then SIGKILL after this
	giveUpAfter  = 5 * time.Second        // after SIGKILL, stop waiting for unkillable processes
	connGrace    = 1 * time.Second        // wait at most this long for an exited rank's last control messages
	confirmRetry = 250 * time.Millisecond // after a rank said no to a confirm round, ask again this late
	flushWait    = 2 * time.Second        // wait this long for output held by leftover processes
	drainPoll    = 20 * time.Millisecond  // after flushWait, look this often whether a pipe may be closed (pipe_drain.go)
)

// supervisor runs one job: it starts the ranks, follows them through their
// exits and control messages, and ends the job on the first failure. All its
// state is owned by the goroutine running run (gorun's locked main goroutine);
// other goroutines only send on its channels.
type supervisor struct {
	cfg            config
	prog           program
	job            jobenv.Job
	stdout, stderr *stream
	server         controlServer
	remote         *remoteRanks // the ranks run on agents (--hosts); nil: here
	sigs           <-chan os.Signal
	broken         <-chan error // gorun's stdout cannot be written

	st       *jobState
	procs    []*proc // nil for a rank never started
	exits    chan exitEvent
	connWait chan int     // a rank's control connection outlived its process by connGrace
	natsFail chan failure // the NATS server was lost

	ending   bool
	status   int
	cause    string // the failure line still to print at the end, if any
	killC    <-chan time.Time
	giveUpC  <-chan time.Time
	timeoutC <-chan time.Time
	// Deadlock confirm rounds (see checkDeadlock).
	round     uint64           // the last round started
	roundFP   string           // the candidate it confirms; "" when none is open
	refusedFP string           // a candidate a rank said no to
	retryC    <-chan time.Time // ask about refusedFP again then

	trace    *traceCollector     // --trace; nil when off
	stamps   *launchtrace.Stamps // GORUN_LAUNCH_TRACE; nil when off
	flushing bool                // ending: waiting for the ranks' traces before SIGTERM
}

// controlServer is the supervisor's end of the ranks' control channel:
// *control.Server for ranks on this host, *remoteRanks through agents.
type controlServer interface {
	Events() <-chan control.Event
	Send(rank int, m control.Message) error
	Sync(rank int)
}

func newSupervisor(cfg config, prog program, job jobenv.Job, server controlServer,
	stdout, stderr *stream, sigs <-chan os.Signal, broken <-chan error) *supervisor {
	return &supervisor{
		cfg: cfg, prog: prog, job: job, server: server,
		stdout: stdout, stderr: stderr, sigs: sigs, broken: broken,
		st:       newJobState(cfg.np),
		procs:    make([]*proc, cfg.np),
		exits:    make(chan exitEvent, cfg.np),
		connWait: make(chan int, cfg.np),
		natsFail: make(chan failure, 1),
	}
}

// run runs the job to its end and returns gorun's exit status.
func (s *supervisor) run() int {
	if err := applyTestPlacement(s.cfg.np, &s.job); err != nil {
		s.stderr.line(withPrefix(err.Error()))
		return 2
	}
	if (s.cfg.transport == jobenv.TransportNATS || s.job.Placement != nil) && s.remote == nil {
		cleanup, err := prepareNATS(s.cfg.nats, &s.job, s.failNATS)
		if err != nil {
			s.stderr.line(withPrefix(err.Error()))
			return 1
		}
		if cleanup != nil {
			defer cleanup()
		}
	}
	if s.cfg.timeout > 0 {
		s.timeoutC = time.After(s.cfg.timeout)
	}
	if s.remote != nil {
		s.remote.start(s)
	} else {
		s.spawn()
	}
	s.stamps.Mark("ranks started")
	s.loop()
	s.stamps.Mark("every rank judged")
	s.finish()
	s.stamps.Mark("output drained")
	s.writeTrace()
	return s.status
}

// spawn starts every rank, from this (locked) goroutine.
func (s *supervisor) spawn() {
	stdin, closeStdin, err := rank0Stdin(os.Stdin)
	if err != nil {
		s.fail(failure{reason: err.Error(), status: 1})
		s.st.neverStarted(0)
		return
	}
	defer closeStdin()
	base := os.Environ()
	cpus := runtime.NumCPU()
	shared := s.sharedMemory()
	defer shared.close() // the ranks hold it now
	s.stamps.Mark("shared memory made")
	shares, restore := s.cpuBinding()
	defer restore()
	var slackEnv []string
	if oneProcPerRank(base, s.cfg.np, cpus) {
		restoreSlack, env, err := withRankTimerSlack()
		slackEnv = env
		if err != nil {
			s.stderr.line(withPrefix(fmt.Sprintf("gorun: ranks keep gorun's timer slack: %v", err)))
		}
		defer restoreSlack()
	}
	s.stamps.Mark("binding decided")
	for rank := range s.procs {
		job := s.job
		job.Rank, job.Size = rank, s.cfg.np
		var in *os.File
		if rank == 0 {
			in = stdin
		}
		if shares != nil {
			if err := bindThread(shares[rank]); err != nil {
				s.stderr.line(withPrefix(fmt.Sprintf("gorun: rank %d runs unbound: %v", rank, err)))
			}
		}
		traceBuf := s.trace.newBuffer(rank)
		p, err := startRank(rank, s.prog, s.cfg.args, slices.Concat(rankEnv(base, job, s.cfg.np, cpus, s.cfg.syncSends), s.trace.env(), slackEnv),
			in, shared.of(rank), traceBuf, s.stdout, s.stderr, s.cfg.tagOutput, s.exits)
		s.trace.started(rank, traceBuf)
		if err != nil {
			s.fail(failure{reason: err.Error(), status: startStatus(err)})
			s.st.neverStarted(rank)
			return
		}
		s.procs[rank] = p
		s.st.started(rank, p.pid)
		s.stamps.Markf("rank %d started", rank)
	}
}

// cpuBinding returns each rank's CPUs under --bind-to core (nil when
// nothing is to be bound) and the function that gives the spawning thread
// back its own CPUs. Ranks inherit the CPUs of the thread that starts them.
func (s *supervisor) cpuBinding() (shares [][]int, restore func()) {
	restore = func() {}
	if s.cfg.bindTo != bindCore {
		return nil, restore
	}
	cpus, err := allowedCPUs()
	if err != nil {
		s.stderr.line(withPrefix(fmt.Sprintf("gorun: ranks run unbound: %v", err)))
		return nil, restore
	}
	shares = cpuShares(cpus, s.cfg.np, jobOffset(s.job.JobID))
	if shares == nil {
		return nil, restore
	}
	return shares, func() {
		if err := bindThread(cpus); err != nil {
			s.stderr.line(withPrefix(fmt.Sprintf("gorun: %v", err)))
		}
	}
}

// sharedMemory creates the job's shared memory, through which the ranks'
// collectives on the world move data without messages: only on the local
// transport, and only with more than one rank. Under a simulated
// placement over several hosts (GORUN_TEST_PLACEMENT) each simulated host
// gets its own, as each agent makes one for its ranks of a job over
// several hosts (hostMemory).
func (s *supervisor) sharedMemory() hostMemory {
	if s.cfg.transport != jobenv.TransportLocal || s.cfg.np < 2 {
		return hostMemory{}
	}
	ranks := make([]int, s.cfg.np)
	for r := range ranks {
		ranks[r] = r
	}
	var placement []int
	if jobenv.SpansHosts(s.job.Placement) {
		placement = s.job.Placement
	}
	return newHostMemory("gorun-"+s.job.JobID, ranks, placement, func(line string) { s.stderr.line(withPrefix(line)) })
}

// loop handles events until every rank is gone and judged.
func (s *supervisor) loop() {
	for !(s.st.allExited() && (s.ending || s.st.done())) {
		select {
		case e := <-s.exits:
			s.stamps.Markf("rank %d exit seen", e.rank)
			// What the rank told us before it exited may be queued
			// already: hear it first.
			s.drainEvents()
			s.trace.exited(e.rank)
			f, wait := s.st.exited(e.rank, exitOf(e))
			if wait {
				rank := e.rank
				if !s.st.ranks[rank].hello {
					s.server.Sync(rank)
				}
				time.AfterFunc(connGrace, func() { s.connWait <- rank })
			}
			s.apply(f)
		case ev := <-s.server.Events():
			s.onEvent(ev)
		case rank := <-s.connWait:
			s.apply(s.st.graceOver(rank))
		case sig := <-s.sigs:
			s.onSignal(sig)
		case <-s.timeoutC:
			s.onTimeout()
		case <-s.retryC:
			s.retryC, s.refusedFP = nil, ""
		case f := <-s.natsFail:
			s.failNow(f)
		case <-s.broken:
			// Our stdout is gone (e.g. "gorun ... | head"): end the job
			// quietly, as SIGPIPE ends a shell pipeline's writer.
			if !s.ending {
				s.status = 128 + int(syscall.SIGPIPE)
				s.beginTeardown()
			}
		case <-s.killC:
			s.killC = nil
			s.signalAll(syscall.SIGKILL)
			s.giveUpC = time.After(giveUpAfter)
		case <-s.trace.flushTimeout():
			s.endFlush()
		case <-s.giveUpC:
			s.stderr.line("gorun: some ranks did not die even of SIGKILL; giving up waiting for them")
			return
		}
		if !s.ending {
			s.checkDeadlock()
		}
		if s.flushing && s.trace.flushed() {
			s.endFlush()
		}
	}
}

// onEvent applies one control-channel event.
func (s *supervisor) onEvent(ev control.Event) {
	if s.stamps != nil {
		s.stamps.Markf("rank %d control: %s", ev.Rank, eventName(ev))
	}
	if s.trace.onEvent(s.server, ev) {
		return
	}
	switch {
	case ev.Synced:
		s.apply(s.st.synced(ev.Rank))
	case ev.Closed:
		s.apply(s.st.connClosed(ev.Rank))
	default:
		if ev.Msg.Type == control.TypeConfirmed {
			s.onConfirmed(ev.Msg)
		}
		s.apply(s.st.message(ev.Rank, ev.Msg))
	}
}

// drainEvents applies the control-channel events already queued.
func (s *supervisor) drainEvents() {
	for {
		select {
		case ev := <-s.server.Events():
			s.onEvent(ev)
		default:
			return
		}
	}
}

// apply acts on what the state machine found wrong, if anything.
func (s *supervisor) apply(f *failure) {
	if f != nil {
		s.fail(*f)
	}
}

// fail ends the job for a rank's failure; only the first failure counts.
// Its line is printed at the end, after the output the rank left behind.
func (s *supervisor) fail(f failure) {
	if s.ending {
		return
	}
	s.cause, s.status = f.reason, f.status
	s.beginTeardown()
}

// failNow ends the job for a cause found by gorun itself (timeout, deadlock,
// a lost server), printing its line at once.
func (s *supervisor) failNow(f failure) {
	if s.ending {
		return
	}
	s.stderr.line(withPrefix(f.reason))
	s.status = f.status
	s.beginTeardown()
}

// failNATS is the fail callback given to prepareNATS; any goroutine may call it.
func (s *supervisor) failNATS(reason string, status int) {
	select {
	case s.natsFail <- failure{reason: reason, status: status}:
	default: // a failure is already on its way
	}
}

func (s *supervisor) onSignal(sig os.Signal) {
	n, ok := sig.(syscall.Signal)
	if !ok || n == syscall.SIGPIPE {
		return // a broken stdout shows up as a write error
	}
	if s.ending {
		// Asked again: no more grace.
		s.signalAll(syscall.SIGKILL)
		return
	}
	s.stderr.line(fmt.Sprintf("gorun: interrupted (%s), ending the job", signalName(n)))
	s.status = 128 + int(n)
	s.beginTeardown()
}

func (s *supervisor) onTimeout() {
	if s.ending {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "gorun: job timed out after %v\n", s.cfg.timeout)
	for _, l := range s.st.stillRunning() {
		b.WriteString("gorun:   " + l + "\n")
	}
	s.stderr.write([]byte(b.String()))
	s.status = 124
	s.beginTeardown()
}

// checkDeadlock follows the job's deadlock candidate (jobState.deadlock)
// after every event. A new candidate opens a confirm round: every live rank
// is asked whether it is still blocked exactly as it reported. The job is
// declared deadlocked when every live rank has said yes to the round and
// the candidate is still the one the round asked about: each rank was then
// blocked at the moment the question left, with no frame in flight. No
// clock decides; a slow job is never judged on timing.
func (s *supervisor) checkDeadlock() {
	desc, fp, ok := s.st.deadlock()
	if !ok {
		s.roundFP = ""
		return
	}
	if fp == s.roundFP {
		if s.st.confirmedAll(s.round) {
			s.failNow(failure{reason: "deadlock: " + desc, status: 1})
			for _, l := range s.st.explain() {
				s.stderr.line("gorun:   " + l)
			}
		}
		return
	}
	if fp == s.refusedFP && s.retryC != nil {
		return // a rank said no to this very candidate: ask again at retryC
	}
	s.round++
	s.roundFP = fp
	for _, rank := range s.st.live() {
		if err := s.server.Send(rank, control.Message{Type: control.TypeConfirm, Round: s.round}); err != nil {
			s.roundFP = "" // cannot ask: no verdict on this candidate
			return
		}
	}
}

// onConfirmed handles a rank's answer to a confirm round: a no voids the
// round (the rank's next report will say what changed) and a new one is
// asked for shortly, in case nothing does.
func (s *supervisor) onConfirmed(m control.Message) {
	if !m.OK && m.Round == s.round && s.roundFP != "" {
		s.refusedFP, s.roundFP = s.roundFP, ""
		s.retryC = time.After(confirmRetry)
	}
}

// beginTeardown asks every rank to stop, and arms the SIGKILL that follows.
func (s *supervisor) beginTeardown() {
	s.ending = true
	s.timeoutC, s.retryC = nil, nil
	if s.trace.askFlush(s.server, s.st.live()) {
		s.flushing = true // the ranks hand over their traces first (endFlush)
		return
	}
	s.terminate()
}

// terminate sends every rank SIGTERM, and arms the SIGKILL that follows.
func (s *supervisor) terminate() {
	s.signalAll(syscall.SIGTERM)
	s.killC = time.After(killGrace)
}

// signalAll signals the process group of every rank started (an exited
// rank's group may still hold its children).
func (s *supervisor) signalAll(sig syscall.Signal) {
	if s.remote != nil {
		s.remote.signal(sig)
		return
	}
	for _, p := range s.procs {
		if p != nil {
			signalGroup(p.pid, sig)
		}
	}
}

// finish makes sure nothing of the job is left, flushes its output and
// prints the failure line, if any.
func (s *supervisor) finish() {
	s.signalAll(syscall.SIGKILL)
	if s.remote != nil {
		s.remote.finish()
		if s.cause != "" {
			s.stderr.line(withPrefix(s.cause))
		}
		return
	}
	// Every rank's process group is killed: a pipe still open after
	// flushWait is held by a process that left its group. What the pipes
	// hold is forwarded first (closeWhenDrained), at the pace of whoever
	// reads gorun's output, as any program's; a signal ends the wait.
	deadline := time.NewTimer(flushWait)
	defer deadline.Stop()
	expired, stopped := false, false
	for _, p := range s.procs {
		if p == nil || stopped {
			continue
		}
		if !expired {
			select {
			case <-p.drained:
				continue
			case <-deadline.C:
				expired = true
			}
		}
		stopped = p.closeWhenDrained(s.sigs)
	}
	// The forwarders end once their pipes are closed, after writing what
	// they read.
	for _, p := range s.procs {
		if p == nil || stopped {
			continue
		}
		select {
		case <-p.drained:
		case <-s.sigs:
			stopped = true
		}
	}
	if s.cause != "" {
		s.stderr.line(withPrefix(s.cause))
	}
}

// withPrefix starts a message with "gorun: " unless it already does.
func withPrefix(msg string) string {
	if strings.HasPrefix(msg, "gorun: ") {
		return msg
	}
	return "gorun: " + msg
}

// eventName names a control event for launch stamps.
func eventName(ev control.Event) string {
	switch {
	case ev.Synced:
		return "synced"
	case ev.Closed:
		return "closed"
	}
	return ev.Msg.Type
}
