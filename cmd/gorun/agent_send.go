package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// An agent's messages to the launcher carry the facts its verdict rests
// on: exit statuses, control events, output. A message the NATS client
// refuses to send (larger than the server's max_payload, the connection
// closed or draining, the reconnect buffer full) must not vanish, or the
// launcher would judge the job without it (a lost exit status hangs it, a
// lost output chunk makes a wrong success). So the first refused message
// ends the job here: the agent tells the launcher what it could not send
// and why (upFail, a short message that fits where the refused one did
// not), kills the job's ranks, and sends nothing more of the job. The
// launcher ends the job with that line, naming the host and its ranks; if
// even upFail cannot go, the agent's heartbeats stop with it and the
// launcher ends the job for the silence (heartbeatLease).

// up sends one message to the launcher; a refused one ends the job (see
// above). It reports whether m went out.
func (j *agentJob) up(m upMsg) bool {
	if j.cut.Load() || j.failed.Load() {
		return false
	}
	err := j.relay.publish(j.agent.nc, j.upSubject(), mustJSON(m))
	if err == nil {
		return true
	}
	j.sendFailed(describeUp(m), err)
	return false
}

// upSubject is where this agent's messages of the job go.
func (j *agentJob) upSubject() string { return j.req.Ctl + ".up." + strconv.Itoa(j.req.Host) }

// sendFailed ends the job after what could not be sent to the launcher
// (for err): once, whoever finds it first.
func (j *agentJob) sendFailed(what string, err error) {
	j.fail(fmt.Sprintf("agent %s could not send %s to the launcher: %v", j.agent.cfg.name, what, err))
}

// fail ends the job for why, a line that starts with the agent's name,
// and tells the launcher (once, whoever finds a failure first).
func (j *agentJob) fail(why string) {
	if j.cut.Load() || !j.failed.CompareAndSwap(false, true) {
		return
	}
	j.agent.logf("job %s: %s: ending the job", j.req.Job, why)
	if err := j.relay.publish(j.agent.nc, j.upSubject(), mustJSON(upMsg{Kind: upFail, Error: why})); err == nil {
		_ = j.agent.nc.Flush() // if it fails too, the launcher hears our silence
	}
	j.abandon(why)
}

// respond answers a request of the launcher for the job (the launch, a
// chunk of stdin); a lost answer ends the job, as a lost message does.
func (j *agentJob) respond(m *nats.Msg, what string, data []byte) bool {
	if err := m.Respond(data); err != nil {
		j.sendFailed(what, err)
		return false
	}
	return true
}

// describeUp names what m carries, for a failure line.
func describeUp(m upMsg) string {
	rank := "rank " + strconv.Itoa(m.Rank)
	switch m.Kind {
	case upEvent:
		if m.Event != nil && m.Event.Msg.Type != "" {
			return fmt.Sprintf("%s's control message %q (%s)", rank, m.Event.Msg.Type, byteSize(len(mustJSON(m))))
		}
		return fmt.Sprintf("%s's control event (%s)", rank, byteSize(len(mustJSON(m))))
	case upExit:
		return rank + "'s exit status"
	case upOut:
		stream := "stdout"
		if m.Fd == 2 {
			stream = "stderr"
		}
		return fmt.Sprintf("%s's %s (%s)", rank, stream, byteSize(len(mustJSON(m))))
	case upDrained:
		return "the end of " + rank + "'s output"
	case upHB:
		return "its heartbeat"
	case upDone:
		return "the end of its part of the job"
	}
	return "a message of kind " + strconv.Quote(m.Kind)
}

// byteSize is n bytes, as a person reads it.
func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// fromLauncher opens a message of the launcher on one of the job's
// subjects (relay_auth.go); nil for one the launcher did not send (forged,
// or replayed), which is logged and dropped.
func (j *agentJob) fromLauncher(m *nats.Msg) []byte {
	body, err := j.relay.open(m.Subject, m.Data)
	if err != nil {
		j.agent.logf("job %s: dropped a message: %v", j.req.Job, err)
		return nil
	}
	return body
}

// onHeartbeat renews the launcher's lease.
func (j *agentJob) onHeartbeat(m *nats.Msg) {
	if j.fromLauncher(m) != nil {
		j.lastHB.Store(time.Now().UnixNano())
	}
}

// onCredit applies the launcher's credit for the job's output.
func (j *agentJob) onCredit(m *nats.Msg) {
	if body := j.fromLauncher(m); body != nil {
		j.flow.credit(body)
	}
}
