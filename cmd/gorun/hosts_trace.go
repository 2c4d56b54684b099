package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/shm"
	"github.com/gorun-mpi/gorun/internal/trace"
)

// gorun --trace across hosts. The collector (trace.go) talks to a remote
// rank as to a local one: its clock questions and its request for the
// records go down to the rank's agent as downControl, the rank's answers
// come up as upEvent, in order. Only the records need more: a rank hands
// them over in messages of up to control.TraceChunk bytes, more than a NATS
// message holds once in JSON, so the agent cuts each into pieces
// (tracePieces) and the launcher joins them back (traceJoiner).

// relayTraceChunk is the most bytes of records one upEvent carries: in
// base64 within JSON, well under NATS's default max_payload of 1 MB. A
// server with a lower max_payload lowers it (tracePieces).
const relayTraceChunk = 256 << 10

// tracePieces is the upMsgs that carry rank's control event ev to the
// launcher through a server whose messages hold at most maxPayload bytes:
// the event itself, or, for records that would not fit, pieces of them.
func tracePieces(ev control.Event, maxPayload int64) []upMsg {
	piece := relayPiece(maxPayload)
	if ev.Msg.Type != control.TypeTrace || len(ev.Msg.Trace) <= piece {
		return []upMsg{{Kind: upEvent, Rank: ev.Rank, Event: &ev}}
	}
	var out []upMsg
	for rest := ev.Msg.Trace; len(rest) > 0; {
		n := min(len(rest), piece)
		part := ev
		part.Msg.Trace = rest[:n]
		rest = rest[n:]
		out = append(out, upMsg{Kind: upEvent, Rank: ev.Rank, Event: &part, More: len(rest) > 0})
	}
	return out
}

// relayPiece is the size of a piece of records for a server whose messages
// hold at most maxPayload bytes (0: unknown, taken as NATS's default):
// base64 makes 4 bytes of 3, and the rest of the message takes less than
// 1 KiB.
func relayPiece(maxPayload int64) int {
	if maxPayload <= 0 {
		maxPayload = 1 << 20
	}
	return int(max(1024, min(relayTraceChunk, (maxPayload-1024)/4*3)))
}

// traceJoiner is the launcher's side of tracePieces: it holds the pieces of
// each rank's records until the last arrives. It is used by one goroutine
// (the subscription's) at a time.
type traceJoiner struct {
	pending map[int][]byte // rank -> the pieces so far
}

// join passes on the control event that u carries, once whole: at once for
// an event in one message, at its last piece for records in pieces. The
// records a rank sends in one message take less than control.MaxMessage
// bytes (the longest line its control connection carries); bytes beyond
// that, which only a misbehaving agent sends, are dropped rather than held.
func (j *traceJoiner) join(u upMsg, deliver func(control.Event)) {
	ev := *u.Event
	held, holding := j.pending[u.Rank]
	if ev.Msg.Type != control.TypeTrace {
		if holding {
			// Pieces whose last never came (an agent of another
			// version): pass on what arrived, which will not decode.
			delete(j.pending, u.Rank)
			deliver(control.Event{Rank: u.Rank, Msg: control.Message{Type: control.TypeTrace, Trace: held}})
		}
		deliver(ev)
		return
	}
	if !holding && !u.More {
		deliver(ev)
		return
	}
	if room := control.MaxMessage - len(held); room > 0 {
		held = append(held, ev.Msg.Trace[:min(len(ev.Msg.Trace), room)]...)
	}
	if u.More {
		if j.pending == nil {
			j.pending = map[int][]byte{}
		}
		j.pending[u.Rank] = held
		return
	}
	delete(j.pending, u.Rank)
	ev.Msg.Trace = held
	deliver(ev)
}

// agentTraces are the trace buffers an agent makes for its ranks of a job
// under gorun --trace, as gorun does for the ranks it starts: a rank
// records into its buffer, and once it has exited, however it exited, the
// agent reads its records and relays them to the launcher as the rank
// would have handed them over (exited). A nil *agentTraces is tracing off.
type agentTraces struct {
	limit   int
	buffers map[int]*os.File
}

// newAgentTraces returns the buffers of ranks that record at most limit
// calls each; nil when limit is 0 (tracing off).
func newAgentTraces(limit int) *agentTraces {
	if limit <= 0 {
		return nil
	}
	return &agentTraces{limit: limit, buffers: map[int]*os.File{}}
}

// newBuffer makes rank's buffer, for startRank; nil where there is none
// (the rank then hands its records over at Finalize).
func (a *agentTraces) newBuffer(rank int) *os.File {
	if a == nil {
		return nil
	}
	f, err := shm.Create(fmt.Sprintf("gorun-trace-%d", rank), int64(trace.BufferSize(jobenv.TraceSlots(a.limit))))
	if err != nil {
		return nil
	}
	return f
}

// started keeps the buffer of a rank started with it (f may be nil), to
// read once the rank has exited.
func (a *agentTraces) started(rank int, f *os.File) {
	if a == nil || f == nil {
		return
	}
	a.buffers[rank] = f
}

// exited returns the control events that carry the records of rank, which
// has exited, to the launcher: its records in chunks, then their end; none
// when it left none in its buffer (it handed them over itself, or never
// recorded). Calls it had not returned from end now.
func (a *agentTraces) exited(rank int) []control.Event {
	if a == nil || a.buffers[rank] == nil {
		return nil
	}
	f := a.buffers[rank]
	delete(a.buffers, rank)
	defer f.Close()
	// The rank's clock and this agent's are this host's Unix time.
	recs, dropped, err := trace.ReadBufferAt(nil, f, int64(trace.BufferSize(jobenv.TraceSlots(a.limit))), time.Now().UnixNano())
	if errors.Is(err, trace.ErrNotFormatted) || errors.Is(err, trace.ErrHandedOver) {
		return nil
	}
	var events []control.Event
	var enc trace.Encoder
	for i := range recs {
		enc.Add(&recs[i])
		if enc.Len() >= control.TraceChunk || i == len(recs)-1 {
			chunk := append([]byte(nil), enc.Bytes()...)
			events = append(events, control.Event{Rank: rank, Msg: control.Message{Type: control.TypeTrace, Trace: chunk}})
			enc.Reset()
		}
	}
	return append(events, control.Event{Rank: rank, Msg: control.Message{Type: control.TypeTraceEnd, Dropped: dropped}})
}

// close closes the buffers not read (ranks that never exited).
func (a *agentTraces) close() {
	if a == nil {
		return
	}
	for rank, f := range a.buffers {
		f.Close()
		delete(a.buffers, rank)
	}
}
