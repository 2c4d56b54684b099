package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// outChunk is the most output bytes one message carries, well within any
// server's max_payload.
const outChunk = 256 << 10

// agentJob is the part of one job that runs on this agent: it plays the
// launcher's local role for its ranks (starts them, serves their control
// connections, forwards their output) and relays everything to and from
// the real launcher.
type agentJob struct {
	agent *agent
	req   launchRequest

	procs    []*proc
	abandonC chan string   // made with the job: why to kill its ranks now
	ended    chan struct{} // made with the job: closed when its ranks are gone
	lastHB   atomic.Int64  // unix nanoseconds of the launcher's last heartbeat
	cut      atomic.Bool   // the connection was lost meanwhile: send nothing more
	failed   atomic.Bool   // a message to the launcher could not be sent: send nothing more (agent_send.go)
	relay    *relayAuth    // seals and opens the job's relay messages (relay_auth.go)
	flow     *upFlow       // credit for output to the launcher
	traces   *agentTraces  // gorun --trace: the ranks' record buffers (hosts_trace.go)
}

// upEvent relays a control event of a rank to the launcher (the records
// of gorun --trace in pieces if need be: see tracePieces).
func (j *agentJob) upEvent(ev control.Event) {
	ev.Msg.Secret = "" // a hello's: checked here, and not for the NATS account's eyes
	for _, m := range tracePieces(ev, j.agent.nc.MaxPayload()) {
		j.up(m)
	}
}

// abandon kills the job's ranks: the launcher is gone or the agent stops.
func (j *agentJob) abandon(why string) {
	select {
	case j.abandonC <- why:
	default:
	}
}

// waitEnded waits at most d for the job's ranks to be gone.
func (j *agentJob) waitEnded(d time.Duration) {
	select {
	case <-j.ended:
	case <-time.After(d):
	}
}

// run starts the job's ranks, answers the launch request m, and supervises
// them to their end. It locks its goroutine to its thread for good: the
// ranks' parent-death signal fires when that thread ends.
func (j *agentJob) run(m *nats.Msg) {
	runtime.LockOSThread()
	defer close(j.ended)
	defer j.agent.jobEnded(j.req.Job)
	req := j.req
	// Until the job's own loop beats, say we are alive while the program
	// is fetched and the ranks start (this may take longer than a lease).
	beating := make(chan struct{})
	go func() {
		tick := time.NewTicker(heartbeatEvery)
		defer tick.Stop()
		for {
			j.up(upMsg{Kind: upHB})
			select {
			case <-beating:
				return
			case <-tick.C:
			}
		}
	}()
	stopBeating := sync.OnceFunc(func() { close(beating) })
	defer stopBeating()
	refuse := func(status int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		j.agent.logf("job %s: %s", req.Job, msg)
		_ = m.Respond(mustJSON(launchReply{Error: fmt.Sprintf("agent %s: %s", j.agent.cfg.name, msg), Status: status}))
	}
	// Listen to the launcher before fetching the program: a launcher
	// interrupted meanwhile says so here (downEnd), and whatever starts
	// is ended at once.
	down := make(chan *nats.Msg, 1024)
	downSub, err := j.agent.nc.ChanSubscribe(req.Ctl+".down."+strconv.Itoa(req.Host), down)
	if err != nil {
		refuse(1, "cannot subscribe to the job's subjects: %v", err)
		return
	}
	defer downSub.Unsubscribe()
	prog, shipped, err := j.fetchProgram()
	if err != nil {
		refuse(126, "%v", err)
		return
	}
	dir, err := newJobDir()
	if err != nil {
		refuse(1, "%v", err)
		return
	}
	defer os.RemoveAll(dir)
	// Marked as a launcher marks its own: if this agent is killed, the
	// next gorun or agent on this host removes what it leaves.
	if err := markJobDir(dir); err != nil {
		refuse(1, "%v", err)
		return
	}
	go removeStaleJobDirs(filepath.Dir(dir))
	job := jobenv.Job{Size: req.Size, JobID: req.Job, Secret: req.Secret, Dir: dir,
		Control: filepath.Join(dir, controlSocket), Transport: jobenv.TransportNATS, NatsURL: j.agent.cfg.nats.URL}
	for _, f := range []struct {
		path string
		into *string
	}{{j.agent.cfg.nats.Creds, &job.NatsCreds}, {j.agent.cfg.nats.CA, &job.NatsCA}} {
		if f.path != "" {
			abs, err := filepath.Abs(f.path)
			if err != nil {
				refuse(1, "%v", err)
				return
			}
			*f.into = abs
		}
	}
	// Ranks with this agent's host index reach each other through Unix
	// sockets in dir (the job's private directory here), the others
	// through NATS.
	if job.Placement, err = jobenv.ParsePlacement(req.Placement, req.Size); err != nil {
		refuse(1, "%v", err)
		return
	}
	server, err := control.Listen(job.Control, job.Secret, req.Size)
	if err != nil {
		refuse(1, "%v", err)
		return
	}
	defer server.Close()

	j.lastHB.Store(time.Now().UnixNano())
	hbSub, err := j.agent.nc.Subscribe(req.Ctl+".hb", j.onHeartbeat)
	if err != nil {
		refuse(1, "cannot subscribe to the job's subjects: %v", err)
		return
	}
	defer hbSub.Unsubscribe()
	j.flow = newUpFlow()
	defer j.flow.close()
	creditSub, err := j.agent.nc.Subscribe(req.Ctl+".credit."+strconv.Itoa(req.Host), j.onCredit)
	if err != nil {
		refuse(1, "cannot subscribe to the job's subjects: %v", err)
		return
	}
	defer creditSub.Unsubscribe()
	var stdin *os.File
	if req.Stdin {
		r, w, err := os.Pipe()
		if err != nil {
			refuse(1, "cannot make rank 0's stdin: %v", err)
			return
		}
		defer r.Close()
		stdinSub, err := j.agent.nc.Subscribe(req.Ctl+".stdin", stdinWriter(j, w))
		if err != nil {
			refuse(1, "cannot subscribe to the job's subjects: %v", err)
			return
		}
		defer stdinSub.Unsubscribe()
		defer w.Close()
		stdin = r
	}

	// The ranks here share memory for their collectives' phases on this
	// host.
	shared := newHostMemory("gorun-"+req.Job, req.Ranks, job.Placement, func(line string) { j.agent.logf("job %s: %s", req.Job, line) })
	defer shared.close()
	j.traces = newAgentTraces(req.Trace) // gorun --trace: see hosts_trace.go
	defer j.traces.close()
	exits := make(chan exitEvent, len(req.Ranks))
	drained := make(chan int, len(req.Ranks))
	var slackEnv []string
	if oneProcPerRank(agentEnviron(), len(req.Ranks), runtime.NumCPU()) {
		restoreSlack, env, err := withRankTimerSlack()
		slackEnv = env
		if err != nil {
			j.agent.logf("job %s: ranks keep the agent's timer slack: %v", req.Job, err)
		}
		defer restoreSlack()
	}
	var pids []int
	for _, rank := range req.Ranks {
		rj := job
		rj.Rank = rank
		var in *os.File
		if rank == 0 {
			in = stdin
		}
		env := slices.Concat(rankEnv(agentEnviron(), rj, len(req.Ranks), runtime.NumCPU(), req.SyncSends), traceEnv(req.Trace), slackEnv)
		traceBuf := j.traces.newBuffer(rank)
		p, err := startRank(rank, prog, req.Args, env, in, shared.of(rank), traceBuf,
			newStream(&upWriter{job: j, rank: rank, fd: 1}, nil), newStream(&upWriter{job: j, rank: rank, fd: 2}, nil),
			req.Tag, exits)
		j.traces.started(rank, traceBuf)
		if err != nil {
			j.killAll(syscall.SIGKILL)
			refuse(startStatus(err), "%v", err)
			j.reap(exits, len(pids))
			return
		}
		j.procs = append(j.procs, p)
		pids = append(pids, p.pid)
		go func() {
			<-p.drained
			drained <- p.rank
		}()
	}
	if stdin != nil {
		stdin.Close()
	}
	j.respond(m, "the answer to its launch request", mustJSON(launchReply{Pids: pids, Shipped: shipped}))
	stopBeating()
	j.supervise(server, down, exits, drained)
}

// supervise relays until every rank of the job here has exited and its
// output has been forwarded.
func (j *agentJob) supervise(server *control.Server, down <-chan *nats.Msg, exits <-chan exitEvent, drained <-chan int) {
	tick := time.NewTicker(heartbeatEvery / 2)
	defer tick.Stop()
	exited, flushed := 0, 0
	ended := false // the launcher has heard all it needs
	var flushC <-chan time.Time
	lastBeat := time.Time{}
	// The job stays here until the launcher says it is over: after a rank
	// exits, its last control messages (and the answer to a Sync) may
	// still have to be relayed.
	for !ended || exited < len(j.procs) || flushed < len(j.procs) {
		select {
		case ev := <-server.Events():
			j.upEvent(ev)
		case e := <-exits:
			// What the rank said before it exited goes first.
			j.drainEvents(server)
			for _, ev := range j.traces.exited(e.rank) { // the records it left
				j.upEvent(ev)
			}
			info := exitOf(e)
			w := &wireExit{Code: info.code}
			if info.signaled {
				w.Signal = int(info.signal)
			}
			j.up(upMsg{Kind: upExit, Rank: e.rank, Exit: w})
			exited++
			if exited == len(j.procs) {
				flushC = time.After(flushWait)
			}
		case rank := <-drained:
			j.up(upMsg{Kind: upDrained, Rank: rank})
			flushed++
		case <-flushC:
			if j.flow.behind() {
				// Output waits for the launcher, not for leftover processes.
				flushC = time.After(flushWait)
				break
			}
			// A rank's children hold its pipes: stop forwarding, once
			// what the pipes hold is forwarded (pipe_drain.go).
			flushC = nil
			for _, p := range j.procs {
				if !p.closeIfDrainable() {
					flushC = time.After(drainPoll)
				}
			}
		case m := <-down:
			if j.onDown(server, m) {
				ended = true
				j.killAll(syscall.SIGKILL) // none left, unless the launcher gave up on them
			}
		case why := <-j.abandonC:
			j.agent.logf("job %s: %s: killing its ranks", j.req.Job, why)
			j.killAll(syscall.SIGKILL)
			ended = true
		case now := <-tick.C:
			if now.Sub(lastBeat) >= heartbeatEvery {
				j.up(upMsg{Kind: upHB})
				lastBeat = now
			}
			if silent := now.Sub(time.Unix(0, j.lastHB.Load())); silent > heartbeatLease {
				if exited < len(j.procs) {
					j.agent.logf("job %s: no heartbeat from its launcher for %v: killing its ranks", j.req.Job, silent.Round(time.Millisecond))
				}
				j.killAll(syscall.SIGKILL)
				ended = true
				j.lastHB.Store(now.UnixNano()) // kill again a lease later if need be
			}
		}
		if ended {
			j.flow.close() // the launcher reads no more output
		}
	}
	j.up(upMsg{Kind: upDone})
	_ = j.agent.nc.Flush()
}

// drainEvents relays the control events already queued.
func (j *agentJob) drainEvents(server *control.Server) {
	for {
		select {
		case ev := <-server.Events():
			j.upEvent(ev)
		default:
			return
		}
	}
}

// onDown applies one message of the launcher; true when it ends the job.
func (j *agentJob) onDown(server *control.Server, m *nats.Msg) bool {
	body := j.fromLauncher(m)
	if body == nil {
		return false
	}
	var d downMsg
	if err := json.Unmarshal(body, &d); err != nil {
		j.agent.logf("job %s: malformed message from the launcher: %v", j.req.Job, err)
		return false
	}
	switch d.Kind {
	case downControl:
		if d.Msg != nil {
			_ = server.Send(d.Rank, *d.Msg)
		}
	case downSync:
		server.Sync(d.Rank)
	case downSignal:
		j.killAll(syscall.Signal(d.Signal))
	case downEnd:
		return true
	}
	return false
}

// killAll signals the process group of every rank started here.
func (j *agentJob) killAll(sig syscall.Signal) {
	for _, p := range j.procs {
		signalGroup(p.pid, sig)
	}
}

// reap waits for n ranks' exits after a failed start.
func (j *agentJob) reap(exits <-chan exitEvent, n int) {
	for range n {
		select {
		case <-exits:
		case <-time.After(giveUpAfter):
			return
		}
	}
}

// upWriter carries one rank's output stream to the launcher: each Write
// (one or more whole lines, from forward) goes in messages of at most
// outChunk bytes, which the launcher joins back into lines.
type upWriter struct {
	job  *agentJob
	rank int
	fd   int
}

func (w *upWriter) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		n := min(len(rest), outChunk, relayPiece(w.job.agent.nc.MaxPayload()))
		if !w.job.flow.acquire(n) || !w.job.up(upMsg{Kind: upOut, Rank: w.rank, Fd: w.fd, Data: rest[:n]}) {
			return len(p), nil // the launcher is done with the job, or gone, or the job failed
		}
		rest = rest[n:]
	}
	return len(p), nil
}

// stdinWriter writes the launcher's stdin chunks to rank 0's pipe, and
// acknowledges each once written (the launcher sends the next only then).
func stdinWriter(j *agentJob, w *os.File) nats.MsgHandler {
	var once sync.Once
	return func(m *nats.Msg) {
		body := j.fromLauncher(m)
		if body == nil {
			return
		}
		var c stdinChunk
		if err := json.Unmarshal(body, &c); err != nil {
			return
		}
		ok := "ok"
		if len(c.Data) > 0 {
			if _, err := w.Write(c.Data); err != nil {
				ok = "closed"
			}
		}
		if c.EOF {
			once.Do(func() { w.Close() })
		}
		j.respond(m, "the acknowledgement of rank 0's stdin", []byte(ok))
	}
}

// agentEnviron is the agent's environment as its ranks inherit it: without
// the cluster's secret, which is the agent's alone.
func agentEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, clusterSecretEnv+"=") {
			env = append(env, kv)
		}
	}
	return env
}
