package main

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gorun-mpi/gorun/internal/control"
)

// TestRefusedUpEndsTheJob: through a real server whose messages hold at
// most 4 KiB, a rank's control message that does not fit (and cannot be
// split) is not silently dropped: the agent tells the launcher what it
// could not send and why, kills the job's ranks, and sends nothing more of
// the job; the launcher ends the host's ranks with that line, naming the
// host and its ranks.
func TestRefusedUpEndsTheJob(t *testing.T) {
	connect := testServer(t, 4096)
	agentNC, launcherNC := connect(), connect()
	ups, err := launcherNC.SubscribeSync("gorun.job.j1.up.*")
	if err != nil {
		t.Fatal(err)
	}
	if err := launcherNC.Flush(); err != nil {
		t.Fatal(err)
	}

	a := &agent{cfg: agentConfig{name: "b"}, nc: agentNC, logw: io.Discard}
	j := &agentJob{agent: a, req: launchRequest{Job: "j1", Secret: "s", Ctl: "gorun.job.j1", Host: 1, Ranks: []int{2, 3}},
		relay: newRelayAuth("j1", "s"), abandonC: make(chan string, 1)}
	launcherRelay := newRelayAuth("j1", "s")
	if !j.up(upMsg{Kind: upHB}) {
		t.Fatal("a heartbeat was refused")
	}
	// A blocked report naming a call too long for the server's messages.
	j.upEvent(control.Event{Rank: 3, Msg: control.Message{Type: control.TypeBlocked, Op: strings.Repeat("Recv", 2000)}})
	if j.up(upMsg{Kind: upExit, Rank: 3, Exit: &wireExit{Code: 0}}) {
		t.Error("the job failed, yet an exit status was sent after it")
	}

	// A marker on the agent's connection comes after all it sent before.
	if err := j.relay.publish(agentNC, j.upSubject(), mustJSON(upMsg{Kind: "marker"})); err != nil {
		t.Fatal(err)
	}
	var got []upMsg
	for {
		m, err := ups.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("the marker did not come back: %v", err)
		}
		body, err := launcherRelay.open(m.Subject, m.Data)
		if err != nil {
			t.Fatal(err)
		}
		var u upMsg
		if err := json.Unmarshal(body, &u); err != nil {
			t.Fatal(err)
		}
		if u.Kind == "marker" {
			break
		}
		got = append(got, u)
	}
	if len(got) != 2 || got[0].Kind != upHB || got[1].Kind != upFail {
		t.Fatalf("the launcher heard %+v, want a heartbeat and a failure", got)
	}
	why := got[1].Error
	for _, want := range []string{"agent b could not send rank 3's control message \"blocked\"", "to the launcher", nats.ErrMaxPayload.Error()} {
		if !strings.Contains(why, want) {
			t.Errorf("the failure %q does not say %q", why, want)
		}
	}
	select {
	case killed := <-j.abandonC:
		if killed != why {
			t.Errorf("the ranks were killed for %q, not %q", killed, why)
		}
	default:
		t.Error("the job's ranks were not killed")
	}

	// The launcher's side: the host's ranks end with the agent's line.
	s := &supervisor{exits: make(chan exitEvent, 4)}
	r := &remoteRanks{np: 4, names: []string{"a", "b"}, hostOf: []int{0, 0, 1, 1}, s: s, relay: newRelayAuth("j1", "s")}
	r.exited, r.drained, r.left, r.allDone = make([]bool, 4), make([]bool, 4), 4, make(chan struct{})
	r.lastHB, r.hostDone, r.lost, r.lostWhy = make([]time.Time, 2), make([]bool, 2), make([]bool, 2), make([]string, 2)
	fail, _ := j.relay.sealLocked("gorun.job.j1.up.1", mustJSON(got[1]))
	r.onUp(&nats.Msg{Subject: "gorun.job.j1.up.1", Data: fail})
	wantLine := "lost agent b (ranks 2-3): could not send rank 3's control message \"blocked\""
	for _, rank := range []int{2, 3} {
		select {
		case e := <-s.exits:
			if e.rank != rank || e.info == nil || !strings.HasPrefix(e.info.lost, wantLine) {
				t.Errorf("rank %d ended as %+v, want rank %d lost with %q", e.rank, e.info, rank, wantLine)
			}
		default:
			t.Fatalf("rank %d was not ended", rank)
		}
	}
	if len(s.exits) != 0 || r.lost[0] {
		t.Errorf("host a's ranks were ended too")
	}
}
