package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// chanEvents carries the ranks' control events to the supervisor.
type chanEvents chan control.Event

// remoteRanks is the launcher's side of a job whose ranks run on agents.
// To the supervisor it is the control server of every rank (Events, Send,
// Sync) and where ranks start, get signals and end; underneath, each call
// is a message to or from an agent.
type remoteRanks struct {
	np        int
	nc        *nats.Conn
	job       jobenv.Job
	ctl       string             // subject prefix of the job
	names     []string           // agents, by host index
	servers   []string           // the NATS server each agent is connected to
	platforms []string           // each agent's GOOS/GOARCH
	progs     map[string]program // the program for each platform
	hostOf    []int              // host index of every rank
	events    chanEvents
	joiner    traceJoiner // the pieces of records relayed so far (used by onUp alone)
	s         *supervisor

	mu       sync.Mutex
	started  bool
	exited   []bool
	drained  []bool
	left     int           // ranks not drained yet
	allDone  chan struct{} // closed when left reaches 0
	lastHB   []time.Time   // per host
	hostDone []bool        // the agent ended its part of the job
	lost     []bool
	lostWhy  []string          // per lost host: the line that says why
	partial  map[[2]int][]byte // rank, fd -> output short of a newline
	stop     context.CancelFunc
	launches []context.CancelFunc // per host: gives up its launch request
	subs     []*nats.Subscription
	out      outFlow    // the agents' output on its way out (hosts_flow.go)
	relay    *relayAuth // seals and opens the job's relay messages (relay_auth.go), from start
}

// Events, Send and Sync make remoteRanks the supervisor's control server.
func (r *remoteRanks) Events() <-chan control.Event { return r.events }

// Send relays m to rank's control connection on its agent.
func (r *remoteRanks) Send(rank int, m control.Message) error {
	return r.down(r.hostOf[rank], downMsg{Kind: downControl, Rank: rank, Msg: &m})
}

// Sync asks rank's agent to sync its control server on rank. The answer
// (a Synced event) is what the supervisor waits for: if the question
// cannot go, the job ends instead of waiting for ever.
func (r *remoteRanks) Sync(rank int) {
	if err := r.down(r.hostOf[rank], downMsg{Kind: downSync, Rank: rank}); err != nil {
		r.loseHost(r.hostOf[rank], r.lostReason(r.hostOf[rank], "cannot send it a control message: "+err.Error()))
	}
}

func (r *remoteRanks) down(host int, m downMsg) error {
	if err := r.relay.publish(r.nc, r.ctl+".down."+strconv.Itoa(host), mustJSON(m)); err != nil {
		return fmt.Errorf("relaying to agent %s: %w", r.names[host], err)
	}
	return nil
}

// start launches the ranks on their agents, from the supervisor's goroutine.
func (r *remoteRanks) start(s *supervisor) {
	r.s = s
	r.relay = newRelayAuth(r.job.JobID, r.job.Secret)
	r.mu.Lock()
	r.started = true
	r.exited, r.drained = make([]bool, r.np), make([]bool, r.np)
	r.left, r.allDone = r.np, make(chan struct{})
	r.lastHB = make([]time.Time, len(r.names))
	r.hostDone, r.lost = make([]bool, len(r.names)), make([]bool, len(r.names))
	r.lostWhy = make([]string, len(r.names))
	r.partial = map[[2]int][]byte{}
	r.launches = make([]context.CancelFunc, len(r.names))
	for h := range r.lastHB {
		r.lastHB[h] = time.Now()
	}
	r.mu.Unlock()
	fail := func(err error, status int) {
		s.fail(failure{reason: err.Error(), status: status})
		for rank := range r.np {
			s.st.ranks[rank].exited, s.st.ranks[rank].judged = true, true
		}
		r.mu.Lock()
		r.left = 0
		close(r.allDone)
		r.mu.Unlock()
	}
	r.startOutput()
	up, err := r.nc.Subscribe(r.ctl+".up.*", r.onUp)
	if err != nil {
		fail(fmt.Errorf("cannot subscribe to the job's subjects: %w", err), 1)
		return
	}
	_ = up.SetPendingLimits(-1, -1)
	r.subs = append(r.subs, up)
	specs := map[string]shipSpec{} // by platform
	served := map[string]bool{}    // by digest
	for platform, prog := range r.progs {
		digest, size, err := fileDigest(prog.path)
		if err != nil {
			fail(fmt.Errorf("cannot read the program to ship it: %w", err), 126)
			return
		}
		subject := r.ctl + ".ship." + digest[:16]
		bucket, err := storeProgram(r.nc, prog.path, digest, size)
		if err != nil {
			s.stderr.line(withPrefix(fmt.Sprintf("gorun: %v; shipping the program without it", err)))
		}
		specs[platform] = shipSpec{Digest: digest, Size: size, Name: s.prog.argv0, Subject: subject, Bucket: bucket}
		if served[digest] || bucket != "" {
			continue
		}
		served[digest] = true
		stopShip, err := serveProgram(r.nc, subject, prog.path)
		if err != nil {
			fail(err, 1)
			return
		}
		defer stopShip()
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go r.heartbeats(ctx)

	type answer struct {
		host  int
		reply launchReply
		err   error
	}
	answers := make(chan answer, len(r.names))
	placement := jobenv.FormatPlacement(r.hostOf)
	secret := secretFromEnv()
	for h, name := range r.names {
		var ranks []int
		for rank, hr := range r.hostOf {
			if hr == h {
				ranks = append(ranks, rank)
			}
		}
		req := launchRequest{Job: r.job.JobID, Secret: r.job.Secret, Size: r.np, Host: h, Ranks: ranks,
			Placement: placement, Ctl: r.ctl, Prog: specs[r.platformOf(h)], Args: s.cfg.args, Tag: s.cfg.tagOutput,
			SyncSends: s.cfg.syncSends, Stdin: r.hostOf[0] == h, Trace: s.trace.recordLimit()}
		if err := authorizeLaunch(secret, name, &req, time.Now()); err != nil {
			fail(err, 1)
			return
		}
		if len(ranks) == 0 {
			r.markHostDone(h)
			answers <- answer{host: h}
			continue
		}
		lctx, lcancel := context.WithTimeout(ctx, launchTimeout)
		r.mu.Lock()
		r.launches[h] = lcancel
		lost := r.lost[h]
		r.mu.Unlock()
		if lost {
			lcancel()
		}
		go func() {
			defer lcancel()
			m, err := r.nc.RequestWithContext(lctx, agentSubject(name, "launch"), mustJSON(req))
			var a launchReply
			if err == nil {
				err = json.Unmarshal(m.Data, &a)
			}
			if err == nil && a.Error == "" && len(a.Pids) != len(ranks) {
				err = fmt.Errorf("agent %s started %d ranks of %d", name, len(a.Pids), len(ranks))
			}
			answers <- answer{host: h, reply: a, err: err}
		}()
	}
	var first *failure
	answered := make([]bool, len(r.names))
	for pending := len(r.names); pending > 0; {
		var a answer
		select {
		case a = <-answers:
			pending--
			answered[a.host] = true
		case sig := <-s.sigs:
			if r.interruptLaunch(s, sig, answered) {
				return
			}
			continue
		}
		var ranks []int
		for rank, hr := range r.hostOf {
			if hr == a.host {
				ranks = append(ranks, rank)
			}
		}
		if a.err == nil && a.reply.Error == "" {
			for i, rank := range ranks {
				s.st.startedOn(rank, a.reply.Pids[i], r.names[a.host])
			}
			continue
		}
		reason, status := a.reply.Error, a.reply.Status
		if a.err != nil {
			reason, status = fmt.Sprintf("cannot launch on agent %s: %v", r.names[a.host], a.err), 1
			r.mu.Lock()
			if why := r.lostWhy[a.host]; why != "" {
				reason = why
			}
			r.mu.Unlock()
		}
		if first == nil {
			first = &failure{reason: reason, status: max(status, 1)}
		}
		r.loseHost(a.host, "")
		for _, rank := range ranks {
			s.st.ranks[rank].exited, s.st.ranks[rank].judged = true, true
		}
	}
	if first != nil {
		s.fail(*first)
		return
	}
	if r.hostOf[0] >= 0 {
		go r.forwardStdin(ctx, os.Stdin)
	}
}

// platformOf is host h's GOOS/GOARCH (the launcher's own if unknown).
func (r *remoteRanks) platformOf(h int) string {
	if h < len(r.platforms) {
		if _, ok := r.progs[r.platforms[h]]; ok {
			return r.platforms[h]
		}
	}
	return runtime.GOOS + "/" + runtime.GOARCH
}

// onUp handles one message of an agent.
func (r *remoteRanks) onUp(m *nats.Msg) {
	host, err := strconv.Atoi(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:])
	if err != nil || host < 0 || host >= len(r.names) {
		return
	}
	body, err := r.relay.open(m.Subject, m.Data)
	if err != nil {
		return // not the agent's: forged, or replayed
	}
	var u upMsg
	if err := json.Unmarshal(body, &u); err != nil {
		return
	}
	hostWide := u.Kind == upHB || u.Kind == upDone || u.Kind == upFail
	if !hostWide && (u.Rank < 0 || u.Rank >= r.np || r.hostOf[u.Rank] != host) {
		return // an agent speaks only for its own ranks
	}
	r.mu.Lock()
	r.lastHB[host] = time.Now()
	if r.lost[host] {
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	switch u.Kind {
	case upEvent:
		if u.Event != nil && u.Event.Rank == u.Rank {
			r.joiner.join(u, func(ev control.Event) { r.events <- ev })
		}
	case upExit:
		if u.Exit != nil {
			info := exitInfo{code: u.Exit.Code}
			if u.Exit.Signal != 0 {
				info = exitInfo{signaled: true, signal: syscall.Signal(u.Exit.Signal)}
			}
			r.exit(u.Rank, info)
		}
	case upOut, upDrained:
		r.out.queues[host].push(u) // after the output before it
	case upDone:
		r.markHostDone(host)
	case upFail:
		// The agent could not send something the verdict may rest on,
		// and kills its ranks: the job ends with its line.
		r.loseHost(host, r.lostReason(host, strings.TrimPrefix(u.Error, "agent "+r.names[host]+" ")))
	}
}

// exit reports a rank's end to the supervisor, once.
func (r *remoteRanks) exit(rank int, info exitInfo) {
	r.mu.Lock()
	if r.exited[rank] {
		r.mu.Unlock()
		return
	}
	r.exited[rank] = true
	r.mu.Unlock()
	r.s.exits <- exitEvent{rank: rank, info: &info}
}

// output writes whole lines of a rank's output to the launcher's stream.
func (r *remoteRanks) output(rank, fd int, data []byte) {
	out := r.s.stdout
	if fd == 2 {
		out = r.s.stderr
	}
	key := [2]int{rank, fd}
	r.mu.Lock()
	buf := append(r.partial[key], data...)
	i := bytes.LastIndexByte(buf, '\n')
	var lines []byte
	if i >= 0 {
		lines = buf[:i+1]
		buf = append([]byte(nil), buf[i+1:]...)
	}
	r.partial[key] = buf
	r.mu.Unlock()
	if len(lines) > 0 {
		out.write(lines)
	}
}

// markDrained records that a rank's output has all arrived.
func (r *remoteRanks) markDrained(rank int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.drained[rank] {
		return
	}
	r.drained[rank] = true
	r.left--
	if r.left == 0 {
		close(r.allDone)
	}
}

// markHostDone records that an agent has no rank of the job left.
func (r *remoteRanks) markHostDone(host int) {
	r.mu.Lock()
	r.hostDone[host] = true
	r.mu.Unlock()
}

// loseHost ends every rank of host that has not exited, as lost for
// reason (none: never started), and stops listening to its agent.
func (r *remoteRanks) loseHost(host int, reason string) {
	r.mu.Lock()
	if r.lost[host] {
		r.mu.Unlock()
		return
	}
	r.lost[host] = true
	r.lostWhy[host] = reason
	if r.launches != nil && r.launches[host] != nil {
		r.launches[host]() // its launch request, if unanswered, is answered by this
	}
	var ranks, all []int
	for rank, h := range r.hostOf {
		if h == host {
			all = append(all, rank)
			if !r.exited[rank] {
				ranks = append(ranks, rank)
			}
		}
	}
	r.mu.Unlock()
	for _, rank := range ranks {
		if reason != "" {
			r.exit(rank, exitInfo{code: 1, lost: reason})
		} else {
			r.mu.Lock()
			r.exited[rank] = true
			r.mu.Unlock()
		}
	}
	// Its ranks' output, exited or not, will come no more.
	for _, rank := range all {
		r.markDrained(rank)
	}
}

// loseAll ends the job's ranks everywhere: the launcher lost the server.
func (r *remoteRanks) loseAll(reason string) {
	r.mu.Lock()
	started := r.started
	r.mu.Unlock()
	if !started {
		return
	}
	for h := range r.names {
		r.loseHost(h, reason)
	}
}

// heartbeats tells the agents every heartbeatEvery that the launcher
// lives, and ends the job when an agent falls silent for heartbeatLease.
func (r *remoteRanks) heartbeats(ctx context.Context) {
	tick := time.NewTicker(heartbeatEvery / 4)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if now.Sub(last) >= heartbeatEvery {
				if err := r.relay.publish(r.nc, r.ctl+".hb", nil); err != nil {
					// Without it every agent ends the job (a lease): say why here.
					r.loseAll(fmt.Sprintf("cannot send the job's heartbeat to its agents: %v", err))
					return
				}
				last = now
			}
			r.mu.Lock()
			var silent []int
			for h := range r.names {
				if !r.hostDone[h] && !r.lost[h] && now.Sub(r.lastHB[h]) > heartbeatLease {
					silent = append(silent, h)
				}
			}
			r.mu.Unlock()
			for _, h := range silent {
				r.loseHost(h, r.lostReason(h, fmt.Sprintf("no heartbeat for %v", heartbeatLease)))
			}
		}
	}
}

// lostReason is the line for losing host h: "lost agent b (ranks 2-3): why".
func (r *remoteRanks) lostReason(h int, why string) string {
	var ranks []int
	for rank, hr := range r.hostOf {
		if hr == h {
			ranks = append(ranks, rank)
		}
	}
	if h < len(r.servers) && r.servers[h] != "" {
		return fmt.Sprintf("lost agent %s (%s, through NATS server %s): %s", r.names[h], rankList(ranks), r.servers[h], why)
	}
	return fmt.Sprintf("lost agent %s (%s): %s", r.names[h], rankList(ranks), why)
}

// forwardStdin copies in to rank 0, one acknowledged chunk at a time.
func (r *remoteRanks) forwardStdin(ctx context.Context, in io.Reader) {
	buf := make([]byte, 64<<10)
	for {
		n, err := in.Read(buf)
		c := stdinChunk{Data: buf[:n], EOF: err != nil}
		if n > 0 || c.EOF {
			if _, rerr := r.relay.request(ctx, r.nc, r.ctl+".stdin", mustJSON(c)); rerr != nil {
				if ctx.Err() == nil {
					// Rank 0 would wait for this chunk, or its end, for ever.
					h := r.hostOf[0]
					r.loseHost(h, r.lostReason(h, "cannot send stdin to rank 0: "+rerr.Error()))
				}
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// signal signals every rank of the job on every agent.
func (r *remoteRanks) signal(sig syscall.Signal) {
	for h := range r.names {
		r.mu.Lock()
		skip := r.hostDone[h] || r.lost[h]
		r.mu.Unlock()
		if !skip {
			_ = r.down(h, downMsg{Kind: downSignal, Signal: int(sig)})
		}
	}
	// No flush waits for the server's answer here: a launcher cut off the
	// network would wait in vain (nats.go writes what is published at once).
}

// finish waits (at most flushWait) for the ranks' last output, and stops.
func (r *remoteRanks) finish() {
	r.mu.Lock()
	started, done := r.started, r.allDone
	r.mu.Unlock()
	if !started {
		return
	}
	r.awaitOutput(done)
	for h := range r.names {
		r.mu.Lock()
		lost := r.lost[h]
		r.mu.Unlock()
		if !lost {
			// runHosts's Close flushes it out; an agent that misses it
			// ends the job at its lease, when our heartbeats stop.
			_ = r.down(h, downMsg{Kind: downEnd})
		}
	}
	if r.stop != nil {
		r.stop()
	}
	for _, sub := range r.subs {
		_ = sub.Unsubscribe()
	}
	r.stopOutput()
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, rest := range r.partial {
		if len(rest) > 0 {
			out := r.s.stdout
			if key[1] == 2 {
				out = r.s.stderr
			}
			out.write(rest, []byte{'\n'})
		}
	}
}
