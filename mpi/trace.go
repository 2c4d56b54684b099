package mpi

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/shm"
	"github.com/gorun-mpi/gorun/internal/trace"
)

// tracer records a rank's mpi calls for gorun --trace: at most limit
// calls, after which further calls are counted, not recorded (except the
// completions of receives whose posting was recorded, so that the recorded
// receives of each envelope are the first ones posted and every arrow gorun
// draws stays exact).
//
// The records go into a trace.Buffer as the calls are made: a call writes
// an entry when it begins and one when it ends, so that recording
// allocates nothing per call and the calls still open are those begun and
// not ended. Under gorun the buffer lies in a shared memory file that gorun
// (or the agent that started this rank on another host) made for it
// (jobenv.TraceFD): gorun (or the agent) reads it once the rank has
// exited, however it exited, or once Finalize has marked it closed (and said
// so: control.TypeTraceClosed, before its goodbyes to its peers). Without
// that file the buffer is this process's own memory, and the records go to
// gorun over the control channel at Finalize. Either way they go over the
// control channel when gorun asks because the job is ending early
// (handOverNow). Calls made after either are not recorded.
type tracer struct {
	base     time.Time // the clock's start, with its monotonic reading
	baseUnix int64     // base as Unix nanoseconds
	// host is this host's boot id (trace.HostID), read at the first clock
	// question: a rank gorun started on its own host gets none.
	host func() string

	mu      sync.Mutex
	limit   int
	buf     *trace.Buffer
	mem     []byte             // the buffer's memory
	shared  bool               // mem is gorun's shared memory: nothing to hand over
	release func()             // gives mem back (memory of this process's own)
	spans   [][]span           // this side of the buffer's calls, spanBlock a block, by number
	sendSeq map[seqKey]*uint64 // sends so far per destination, communicator and tag
	lastKey seqKey             // the last key of sendSeq counted, and its count
	lastSeq *uint64
	posts   uint64 // receives posted so far
	handed  bool   // the buffer is closed: the records went, or are left, to gorun
	// clockDone is closed when gorun has asked its last clock question
	// (control.TypeClockDone); clockOver says it was.
	clockDone chan struct{}
	clockOver bool
}

// spanBlock is how many spans a block of the slab holds.
const spanBlock = 512

type seqKey struct {
	dest int
	comm uint32
	tag  int
}

// newTracerFromEnv returns the tracer gorun --trace asks for with
// GORUN_TRACE, recording into the shared memory GORUN_TRACE_FD names if
// set; or nil.
func newTracerFromEnv() (*tracer, error) {
	v := os.Getenv(jobenv.Trace)
	if v == "" {
		return nil, nil
	}
	limit, err := strconv.Atoi(v)
	if err != nil || limit < 1 || limit > jobenv.MaxTraceLimit {
		return nil, fmt.Errorf("%w: %s=%q is not a number of calls from 1 to %d", ErrInit, jobenv.Trace, v, jobenv.MaxTraceLimit)
	}
	var mem []byte
	if fdText := os.Getenv(jobenv.TraceFD); fdText != "" {
		fd, err := strconv.Atoi(fdText)
		if err != nil || fd < 3 {
			return nil, fmt.Errorf("%w: %s=%q is not a descriptor", ErrInit, jobenv.TraceFD, fdText)
		}
		region, err := shm.Map(os.NewFile(uintptr(fd), "gorun-trace"), trace.BufferSize(jobenv.TraceSlots(limit)))
		if err != nil {
			return nil, fmt.Errorf("%w: the trace buffer from gorun (%s=%d): %w", ErrInit, jobenv.TraceFD, fd, err)
		}
		mem = region.Bytes() // mapped for the process's life: gorun reads it after
	}
	tr, err := newTracer(limit, mem)
	if err == nil && os.Getenv(jobenv.TraceSameClock) == "1" {
		// gorun reads this host's clock: it asks no clock questions, and
		// Finalize need not wait for their end (a wait that would hang
		// if the launcher's clock-done were lost).
		tr.clockOver = true
		close(tr.clockDone)
	}
	return tr, err
}

// newTracer returns a tracer of at most limit calls recording into mem,
// gorun's shared memory, or into memory of its own when mem is nil.
func newTracer(limit int, mem []byte) (*tracer, error) {
	shared, release := mem != nil, func() {}
	if !shared {
		mem, release = ownMemory(trace.BufferSize(jobenv.TraceSlots(limit)))
	}
	buf, err := trace.NewBuffer(mem, jobenv.TraceSlots(limit))
	if err != nil {
		release()
		return nil, fmt.Errorf("%w: %w", ErrInit, err)
	}
	now := time.Now()
	return &tracer{base: now, baseUnix: now.UnixNano(), host: sync.OnceValue(trace.HostID), limit: limit,
		buf: buf, mem: mem, shared: shared, release: release, sendSeq: map[seqKey]*uint64{}, clockDone: make(chan struct{})}, nil
}

// ownMemory is size bytes for a buffer of this process's own: a memory
// file of its own where there are such (pages are allocated as they are
// written, and the Go heap, which the garbage collector paces itself by,
// stays the program's), Go memory elsewhere.
// release gives the memory back once the records are handed over.
func ownMemory(size int) (mem []byte, release func()) {
	if f, err := shm.Create("gorun-trace", int64(size)); err == nil {
		if region, err := shm.Map(f, size); err == nil {
			return region.Bytes(), func() { region.Close() }
		}
	}
	return make([]byte, size), func() {}
}

// now is the trace clock: the Unix time at the tracer's start plus the
// monotonic time since, in nanoseconds (a clock that never steps back).
// A nil tracer reads the wall clock.
func (t *tracer) now() int64 {
	if t == nil {
		return time.Now().UnixNano()
	}
	return t.baseUnix + int64(time.Since(t.base))
}

// span is one call being recorded: its number in the buffer, or -1 when
// the call is only counted (the limit was reached).
type span struct {
	t     *tracer
	post  uint64 // the receive the call posted, numbered (beginPosting); 0 if none
	call  int32  // at most jobenv.MaxTraceLimit's slots: 24 bytes a span, not 32
	noted bool   // the buffer holds one note a call
	ended bool
}

// waitFor is what a receive (or a Wait) in progress waits for, which gorun
// says of a call that had not returned: the call waited on (for a Wait),
// the peer and the tag (see trace.Wait).
type waitFor struct {
	op         string // the call waited on, e.g. "Irecv" for a Wait; "" if none
	dest       bool   // the peer is a destination (a send), not a source
	peer, tag  int
	wantedPeer bool // there is something to say
}

// waitSource is what a receive from source with tag waits for.
func waitSource(source, tag int) waitFor {
	return waitFor{wantedPeer: true, peer: source, tag: tag}
}

// begin starts recording a call named op on communicator context comm.
// It returns nil once the buffer is closed.
func (t *tracer) begin(op string, comm uint32, force bool) *span {
	return t.beginWaiting(op, comm, force, waitFor{}, 0)
}

// beginWaiting is begin for a call that waits as w says, and that began
// at start (0: now).
func (t *tracer) beginWaiting(op string, comm uint32, force bool, w waitFor, start int64) *span {
	t.mu.Lock()
	sp := t.beginLocked(op, comm, force, w, start)
	t.mu.Unlock()
	return sp
}

// beginPosting is beginWaiting for a call that posts a receive (Recv,
// Irecv, Sendrecv), numbering the receive as posted (the span's post) in
// the same critical section: one lock a call, not two.
func (t *tracer) beginPosting(op string, comm uint32, w waitFor) *span {
	t.mu.Lock()
	sp := t.beginLocked(op, comm, false, w, 0)
	if sp != nil {
		t.posts++
		sp.post = t.posts
	}
	t.mu.Unlock()
	return sp
}

// beginLocked is beginWaiting with t.mu held.
func (t *tracer) beginLocked(op string, comm uint32, force bool, w waitFor, start int64) *span {
	if t.handed {
		return nil
	}
	if force || t.buf.Used() < t.limit {
		var tw trace.Wait
		if w.wantedPeer {
			tw = trace.Wait{Op: trace.OpCode(w.op), Word: trace.WaitSource, Peer: int32(w.peer), Tag: int32(w.tag)}
			if w.dest {
				tw.Word = trace.WaitDest
			}
			if w.peer == AnySource {
				tw.Word |= trace.WaitAnyPeer
			}
			if w.tag == AnyTag {
				tw.Word |= trace.WaitAnyTag
			}
		}
		if start == 0 {
			start = t.now()
		}
		if i := t.buf.Begin(op, comm, start, tw); i >= 0 {
			sp := t.span(i)
			*sp = span{t: t, call: int32(i)}
			return sp
		}
	}
	return &span{t: t, call: -1} // counted, not kept
}

// span is the span of call i, in the slab of blocks allocated once each.
func (t *tracer) span(i int) *span {
	k := i / spanBlock
	for len(t.spans) <= k {
		t.spans = append(t.spans, make([]span, spanBlock))
	}
	return &t.spans[k][i%spanBlock]
}

// end records the call, unless it was not admitted (the buffer was full).
func (sp *span) end(err error) { sp.endTaking(err, nil) }

// recvPart is the message a receive took.
type recvPart struct {
	source, sourceLocal, tag, size int
	post                           uint64
}

// endTaking is end for a call that took the message got (nil: none).
func (sp *span) endTaking(err error, got *recvPart) {
	if sp == nil {
		return
	}
	t := sp.t
	end := t.now()
	t.mu.Lock()
	// Not ended already, nor left open in a closed buffer.
	if !sp.ended && !t.handed {
		sp.ended = true
		t.endLocked(int(sp.call), end, err, got)
	}
	t.mu.Unlock()
}

// endLocked records that call ended at end, with err, having taken got;
// a call not recorded (-1) is counted. The caller holds t.mu.
func (t *tracer) endLocked(call int, end int64, err error, got *recvPart) {
	if call < 0 {
		t.buf.Drop()
		return
	}
	var errText string
	if err != nil {
		errText = shortError(err)
	}
	var recv *trace.RecvPart
	if got != nil {
		recv = &trace.RecvPart{Source: got.source, SourceLocal: got.sourceLocal, Tag: got.tag, Size: got.size, Post: got.post}
	}
	t.buf.End(call, end, recv, err != nil, errText)
}

// endErr is end for a deferred call with a named error result. A call
// that panics (a user's operator in a reduction) did not return: its
// record stays open, noted with the panic, and the panic goes on (to
// gorun, a rank that dies of it died inside the call).
func (sp *span) endErr(err *error) {
	if sp == nil {
		return
	}
	if p := recover(); p != nil {
		sp.setNote(fmt.Sprintf("panicked: %v", p))
		panic(p)
	}
	sp.end(*err)
}

// sends records that the call sends a message of size payload bytes to
// dest (a rank of c) with tag, and numbers it among the sends to that rank
// on c with that tag, as the receiver will take them.
//
// It and received are a nil check around a call, small enough to be
// inlined: with tracing off every message then costs a branch, not two
// calls (issue 17).
func (sp *span) sends(c *Comm, dest, tag, size int) {
	if sp != nil {
		sp.recordSend(c, dest, tag, size)
	}
}

// recordSend is sends for a span that records.
func (sp *span) recordSend(c *Comm, dest, tag, size int) {
	world := c.group[dest]
	t := sp.t
	t.mu.Lock() // handOver may read the buffer meanwhile
	seq := t.nextSend(seqKey{dest: world, comm: c.ctx, tag: tag})
	if sp.call >= 0 && !t.handed && !sp.ended {
		t.buf.Send(int(sp.call), trace.SendPart{Dest: world, DestLocal: dest, Tag: tag, Size: size, Seq: seq})
	}
	t.mu.Unlock()
}

// nextSend numbers a send to key's destination, communicator and tag; a
// rank mostly sends with the key of its last send, which costs no map
// lookup. The caller holds t.mu.
func (t *tracer) nextSend(key seqKey) uint64 {
	if t.lastSeq == nil || key != t.lastKey {
		n := t.sendSeq[key]
		if n == nil {
			n = new(uint64)
			t.sendSeq[key] = n
		}
		t.lastKey, t.lastSeq = key, n
	}
	*t.lastSeq++
	return *t.lastSeq
}

// setNote sets the note of a call in progress (the first one only: a
// call's room in the buffer holds one).
func (sp *span) setNote(note string) {
	sp.t.mu.Lock()
	defer sp.t.mu.Unlock()
	if sp.call >= 0 && !sp.t.handed && !sp.ended && !sp.noted {
		sp.noted = true
		sp.t.buf.Note(int(sp.call), note)
	}
}

// received records the message req took, if it took one, and ends the
// call with err.
func (sp *span) received(req *Request, err error) {
	if sp != nil {
		sp.recordReceived(req, err)
	}
}

// recordReceived is received for a span that records.
func (sp *span) recordReceived(req *Request, err error) {
	if req != nil && req.traceTook {
		got := req.traceMsg
		got.post = req.tracePost
		sp.endTaking(err, &got)
		return
	}
	sp.end(err)
}

// handOver closes the buffer (at most once): calls still in progress
// stay open, as gorun will mark them, and nothing more is recorded. A
// buffer in gorun's shared memory is then gorun's to read; one in this
// process's memory goes to gorun over ctl: every call recorded, those
// still in progress marked Unfinished and ending now, in chunks of at most
// about control.TraceChunk bytes, then the count of calls not recorded.
//
// At Finalize a rank first waits until gorun has measured its clock
// (clockDone): a short job would otherwise exit before the exchanges, and
// its records could not be put on gorun's clock. The wait ends with
// gorun's connection too (the rank then exits). The exchanges travel
// through an agent and NATS, which may lose a message: every
// clockWaitAgain without clock-done, the rank says it waits
// (control.TypeClockWait), and gorun ends the exchanges, saying clock-done
// again.
func (t *tracer) handOver(ctl *control.Client) error {
	return t.handOverAfter(ctl, clockWaitAgain)
}

// clockWaitAgain is how long a rank at Finalize waits for clock-done
// before it tells gorun it waits (eight exchanges through an agent take
// milliseconds).
const clockWaitAgain = 2 * time.Second

// handOverAfter is handOver, saying it waits every again.
func (t *tracer) handOverAfter(ctl *control.Client, again time.Duration) error {
	tick := time.NewTicker(again)
	defer tick.Stop()
	for {
		select {
		case <-t.clockDone:
			return t.close(ctl, false)
		case <-tick.C:
			_ = ctl.Send(control.Message{Type: control.TypeClockWait})
		}
	}
}

// handOverNow is handOver without the wait for the clock, when gorun asks
// for the records (the clock answers come on the goroutine that asks): it
// sends them over ctl even from a shared buffer, marked as handed over so
// that whoever reads the memory (an agent) does not send them again.
func (t *tracer) handOverNow(ctl *control.Client) error { return t.close(ctl, true) }

// close closes the buffer, sending the records over ctl when asked to or
// when the buffer is this process's own.
func (t *tracer) close(ctl *control.Client, send bool) error {
	t.mu.Lock()
	if t.handed {
		t.mu.Unlock()
		return nil
	}
	t.handed = true
	now := t.now()
	if t.shared && !send {
		t.buf.Close(now)
		t.mu.Unlock()
		// The records are final: gorun may read them now (this rank
		// has goodbyes to say before it is done).
		return ctl.Send(control.Message{Type: control.TypeTraceClosed})
	}
	t.buf.Close(now) // the records read below end their open calls now
	recs, dropped, err := trace.ReadBuffer(nil, t.mem, now)
	if t.shared {
		t.buf.HandedOver(now)
	}
	t.release()
	t.spans, t.mem, t.buf = nil, nil, nil
	t.mu.Unlock()
	if err != nil {
		return err // this process wrote it: a bug, said rather than hidden
	}
	var enc trace.Encoder
	for i := range recs {
		enc.Add(&recs[i])
		if enc.Len() >= control.TraceChunk || i == len(recs)-1 {
			if err := ctl.Send(control.Message{Type: control.TypeTrace, Trace: enc.Bytes()}); err != nil {
				return err
			}
			enc.Reset()
		}
	}
	return ctl.Send(control.Message{Type: control.TypeTraceEnd, Dropped: dropped})
}

// answerLauncher handles gorun --trace's messages to the rank: clock
// questions, their end, and the request to hand the trace over now.
func (t *tracer) answerLauncher(ctl *control.Client, m control.Message) {
	switch m.Type {
	case control.TypeClock:
		host := ""
		if t != nil {
			host = t.host()
		}
		_ = ctl.Send(control.Message{Type: control.TypeClockReply, Round: m.Round, Clock: t.now(), Host: host})
	case control.TypeClockDone:
		if t != nil {
			t.mu.Lock()
			if !t.clockOver {
				t.clockOver = true
				close(t.clockDone)
			}
			t.mu.Unlock()
		}
	case control.TypeTraceFlush:
		if t != nil {
			_ = t.handOverNow(ctl)
		}
	}
}

// shortError keeps a recorded error's text short: the record travels to
// gorun in a control message of bounded size.
func shortError(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
