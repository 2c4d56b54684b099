package main

import (
	"slices"
	"testing"

	"github.com/gorun-mpi/gorun/internal/control"
)

func blockedIn(j *jobState, rank int, unmatched []control.Unmatched, waits ...control.Wait) {
	op := ""
	for i, w := range waits {
		if i > 0 {
			op += " and "
		}
		op += w.Call
	}
	j.message(rank, control.Message{Type: control.TypeBlocked, Op: op, Waits: waits, Unmatched: unmatched})
}

func recvWait(peer, tag int, call string) control.Wait {
	return control.Wait{Call: call, Op: "Recv", Peer: peer, Tag: tag, Recv: true}
}

func TestExplainNamesTheCycleAndTheMessageNobodyReceives(t *testing.T) {
	j := newTestState(3)
	hello(j, 0, 1, 2)
	blockedIn(j, 0, []control.Unmatched{{Source: 1, Tag: 6}}, recvWait(1, 5, "Recv(source 1, tag 5)"))
	blockedIn(j, 1, nil, recvWait(0, 7, "Recv(source 0, tag 7)"))
	blockedIn(j, 2, nil, recvWait(control.AnyPeer, 1, "Recv(source any, tag 1)"))
	got := j.explain()
	want := []string{
		"cycle: rank 0 Recv(source 1, tag 5) → rank 1 Recv(source 0, tag 7) → rank 0",
		"never received: rank 1 sent tag 6 to rank 0, which waits for tag 5 from it",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("explain =\n%q\nwant\n%q", got, want)
	}
}

func TestExplainFindsACycleThroughAnySource(t *testing.T) {
	j := newTestState(2)
	hello(j, 0, 1)
	blockedIn(j, 0, nil, recvWait(control.AnyPeer, 3, "Recv(source any, tag 3)"))
	blockedIn(j, 1, nil, control.Wait{Call: "Ssend(dest 0, tag 4)", Op: "Ssend", Peer: 0, Tag: 4})
	got := j.explain()
	want := []string{"cycle: rank 0 Recv(source any, tag 3) → rank 1 Ssend(dest 0, tag 4) → rank 0"}
	if !slices.Equal(got, want) {
		t.Fatalf("explain = %q, want %q", got, want)
	}
}

func TestExplainNamesFinishedRanksAndDifferentCollectives(t *testing.T) {
	j := newTestState(4)
	hello(j, 0, 1, 2, 3)
	j.message(3, control.Message{Type: control.TypeFinalized})
	j.exited(3, exitInfo{})
	j.connClosed(3)
	blockedIn(j, 0, nil, recvWait(control.AnyPeer, 9, "Recv(source any, tag 9)"))
	blockedIn(j, 1, nil, control.Wait{Call: "Barrier in shared memory", Op: "Barrier", Peer: control.AllPeers, Comm: 1})
	blockedIn(j, 2, nil, control.Wait{Call: "Bcast in shared memory", Op: "Bcast", Peer: control.AllPeers, Comm: 1})
	got := j.explain()
	want := []string{
		"rank 3 has finished while rank 0 waits for a message from any rank: only blocked ranks are left to send it",
		"different collectives on one communicator: rank 1 is in Barrier, rank 2 is in Bcast",
	}
	// Rank 0 waits for any rank, so a cycle through it is found too.
	if len(got) != 3 || !slices.Equal(got[1:], want) {
		t.Fatalf("explain = %q, want a cycle, then %q", got, want)
	}
}
