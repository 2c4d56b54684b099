package main

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/trace"
)

// seededRecords is n records of point-to-point calls, drawn from seed.
func seededRecords(seed uint64, n int) []trace.Record {
	rng := rand.New(rand.NewPCG(seed, seed))
	recs := make([]trace.Record, n)
	at := int64(1.7e18)
	for i := range recs {
		at += rng.Int64N(1e6)
		r := trace.Record{Op: []string{"Send", "Recv", "Isend", "Wait", "MyCall"}[rng.IntN(5)], Comm: rng.Uint32N(4),
			Start: at, End: at + rng.Int64N(1e5)}
		if rng.IntN(2) == 0 {
			r.Flags |= trace.HasSend
			r.Dest, r.SendTag, r.SendSize, r.SendSeq = rng.IntN(64), rng.IntN(1000), rng.IntN(1<<20), rng.Uint64N(1e6)
		} else {
			r.Flags |= trace.HasRecv
			r.Source, r.RecvTag, r.RecvSize, r.RecvPost = rng.IntN(64), rng.IntN(1000), rng.IntN(1<<20), rng.Uint64N(1e6)
		}
		recs[i] = r
	}
	return recs
}

// TestTraceRecordsCrossTheRelay: a rank's control messages go up through
// the relay as they are, and records too big for a NATS message go in
// pieces that fit the server's max_payload, which the launcher joins back
// into the records the rank sent, in order, whatever the other ranks of the
// agent send between two of its messages.
func TestTraceRecordsCrossTheRelay(t *testing.T) {
	for _, maxPayload := range []int64{1 << 20, 64 << 10, 0} {
		big := trace.EncodeRecords(seededRecords(uint64(maxPayload)+1, 90000))
		if len(big) <= control.TraceChunk {
			t.Fatalf("the test's records take %d bytes, not more than a rank's chunk", len(big))
		}
		small := trace.EncodeRecords(seededRecords(7, 10))
		sent := []control.Event{
			{Rank: 1, Msg: control.Message{Type: control.TypeClockReply, Round: 1, Clock: 42, Host: "boot"}},
			{Rank: 1, Msg: control.Message{Type: control.TypeTrace, Trace: big}},
			{Rank: 3, Msg: control.Message{Type: control.TypeTrace, Trace: small}},
			{Rank: 3, Msg: control.Message{Type: control.TypeTrace, Trace: big[:len(big)/2]}},
			{Rank: 1, Msg: control.Message{Type: control.TypeTraceEnd, Dropped: 5}},
			{Rank: 3, Closed: true},
		}
		var wire []upMsg
		for _, ev := range sent {
			ups := tracePieces(ev, maxPayload)
			limit := maxPayload
			if limit == 0 {
				limit = 1 << 20
			}
			for _, u := range ups {
				if n := len(mustJSON(u)); int64(n) > limit {
					t.Fatalf("max_payload %d: a message of %d bytes", maxPayload, n)
				}
			}
			if len(ev.Msg.Trace) > relayPiece(maxPayload) && len(ups) < 2 {
				t.Fatalf("max_payload %d: records of %d bytes in one message", maxPayload, len(ev.Msg.Trace))
			}
			wire = append(wire, ups...)
		}
		// The pieces of rank 1 and rank 3 (one agent's two ranks) may
		// interleave only between whole messages; the wire is JSON.
		var got []control.Event
		var j traceJoiner
		for _, u := range wire {
			var back upMsg
			if err := json.Unmarshal(mustJSON(u), &back); err != nil {
				t.Fatal(err)
			}
			j.join(back, func(ev control.Event) { got = append(got, ev) })
		}
		if !reflect.DeepEqual(got, sent) {
			t.Fatalf("max_payload %d: %d events sent, %d arrived, or they differ", maxPayload, len(sent), len(got))
		}
		if len(j.pending) != 0 {
			t.Fatalf("max_payload %d: pieces left over: %v", maxPayload, len(j.pending))
		}
	}
}

// TestTraceJoinerBoundsWhatItHolds: pieces that never end, or that end
// only after more than a control line holds, are not held without bound,
// and what came is passed on (as records that fail to decode, the trace
// then says so) when another message of the rank shows the last piece is
// not coming.
func TestTraceJoinerBoundsWhatItHolds(t *testing.T) {
	var j traceJoiner
	var got []control.Event
	deliver := func(ev control.Event) { got = append(got, ev) }
	piece := make([]byte, relayTraceChunk)
	for range 2 * control.MaxMessage / relayTraceChunk {
		p := piece
		j.join(upMsg{Kind: upEvent, Rank: 2, More: true, Event: &control.Event{Rank: 2, Msg: control.Message{Type: control.TypeTrace, Trace: p}}}, deliver)
	}
	if len(got) != 0 || len(j.pending[2]) != control.MaxMessage {
		t.Fatalf("%d events passed on, %d bytes held, want none and %d", len(got), len(j.pending[2]), control.MaxMessage)
	}
	j.join(upMsg{Kind: upEvent, Rank: 2, Event: &control.Event{Rank: 2, Msg: control.Message{Type: control.TypeTraceEnd}}}, deliver)
	if len(got) != 2 || got[0].Msg.Type != control.TypeTrace || len(got[0].Msg.Trace) != control.MaxMessage || got[1].Msg.Type != control.TypeTraceEnd {
		t.Fatalf("after the unfinished pieces: %d events", len(got))
	}
	if _, err := trace.DecodeRecords(nil, got[0].Msg.Trace); err == nil {
		t.Fatal("the pieces of an unfinished message decode as records")
	}
	if len(j.pending) != 0 {
		t.Fatal("pieces still held")
	}
}

// TestLaunchSignatureCoversTracing: turning tracing on or changing its
// limit changes what a launch request's signature covers, and a launch
// without tracing signs what it always did.
func TestLaunchSignatureCoversTracing(t *testing.T) {
	req := launchRequest{Job: "j", Secret: "s", Size: 2, Ranks: []int{0, 1}, Placement: "0,0", Ctl: "c"}
	off := launchText("a", req)
	if strings.Contains(off, "trace") {
		t.Fatalf("a launch without tracing signs %q", off)
	}
	req.Trace = 100
	on := launchText("a", req)
	req.Trace = 101
	if on == off || launchText("a", req) == on {
		t.Fatal("the signature does not cover the trace limit")
	}
	// An agent's ranks measure their clock against gorun's: never
	// GORUN_TRACE_SAME_CLOCK=1, even inherited.
	if env := traceEnv(0); strings.Join(env, " ") != "GORUN_TRACE= GORUN_TRACE_FD= GORUN_TRACE_SAME_CLOCK=" {
		t.Fatalf("an agent's ranks without tracing get %v", env)
	}
	if env := traceEnv(100); strings.Join(env, " ") != "GORUN_TRACE=100 GORUN_TRACE_FD= GORUN_TRACE_SAME_CLOCK=" {
		t.Fatalf("an agent's ranks with tracing get %v", env)
	}
}
