package mpi

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/trace"
)

// tracer records a rank's mpi calls for gorun --trace, in memory only: at
// most limit calls, after which further calls are counted, not recorded
// (except the completions of receives whose posting was recorded, so that
// the recorded receives of each envelope are the first ones posted and
// every arrow gorun draws stays exact). The records go to gorun at
// Finalize, or when gorun asks because the job is ending early (handOver);
// calls made after that are not recorded.
//
// A recorded call is a span in a slab: blocks of spanBlock spans, each
// allocated once and never moved, filled in the order the calls begin. A
// call takes its slot when it begins and fills it in when it ends, so that
// recording allocates nothing per call and the calls still open when the
// trace is taken are the slots not yet ended.
type tracer struct {
	base     time.Time // the clock's start, with its monotonic reading
	baseUnix int64     // base as Unix nanoseconds
	host     string    // this host's boot id (trace.HostID)

	mu      sync.Mutex
	limit   int
	blocks  [][]span // the slab; the last block may have room
	used    int      // slots taken: calls recorded, ended or not
	dropped uint64
	sendSeq map[seqKey]*uint64 // sends so far per destination, communicator and tag
	lastKey seqKey             // the last key of sendSeq counted, and its count
	lastSeq *uint64
	posts   uint64 // receives posted so far
	handed  bool   // the records went to gorun
}

// spanBlock is how many spans a block of the slab holds.
const spanBlock = 512

type seqKey struct {
	dest int
	comm uint32
	tag  int
}

// newTracerFromEnv returns the tracer gorun --trace asks for with
// GORUN_TRACE, or nil.
func newTracerFromEnv() (*tracer, error) {
	v := os.Getenv(jobenv.Trace)
	if v == "" {
		return nil, nil
	}
	limit, err := strconv.Atoi(v)
	if err != nil || limit < 1 {
		return nil, fmt.Errorf("%w: %s=%q is not a positive number of calls", ErrInit, jobenv.Trace, v)
	}
	now := time.Now()
	return &tracer{base: now, baseUnix: now.UnixNano(), host: trace.HostID(), limit: limit,
		sendSeq: map[seqKey]*uint64{}}, nil
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

// span is one call being recorded.
type span struct {
	t        *tracer
	rec      trace.Record
	admitted bool // in the slab: recorded (else only counted in dropped)
	ended    bool
	wait     waitFor
}

// waitFor is what a receive (or a Wait) in progress waits for, said when
// the trace is taken before it returns: formatted only then, since most
// calls return first.
type waitFor struct {
	wanted bool
	prefix string // the call waited on, e.g. "Irecv" for a Wait
	word   string // "source", or "dest" for a send
	source int
	tag    int
}

// want describes what the unfinished call waited for.
func (sp *span) want() string {
	w := sp.wait
	if !w.wanted {
		return ""
	}
	if w.prefix != "" {
		return w.prefix + " " + wantText(w.word, w.source, w.tag)
	}
	return wantText(w.word, w.source, w.tag)
}

// begin starts recording a call named op on communicator context comm.
// It returns nil once the records were handed over.
func (t *tracer) begin(op string, comm uint32, force bool) *span {
	return t.beginWaiting(op, comm, force, waitFor{})
}

// beginWaiting is begin for a call that waits as w says.
func (t *tracer) beginWaiting(op string, comm uint32, force bool, w waitFor) *span {
	t.mu.Lock()
	if t.handed {
		t.mu.Unlock()
		return nil
	}
	var sp *span
	if force || t.used < t.limit {
		sp = t.slot()
		*sp = span{t: t, admitted: true}
	} else {
		sp = &span{t: t} // counted, not kept
	}
	sp.rec.Op, sp.rec.Comm, sp.rec.Start, sp.wait = op, comm, t.now(), w
	t.mu.Unlock()
	return sp
}

// slot takes the slab's next span.
func (t *tracer) slot() *span {
	i := t.used % spanBlock
	if i == 0 {
		t.blocks = append(t.blocks, make([]span, spanBlock))
	}
	t.used++
	return &t.blocks[len(t.blocks)-1][i]
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
	defer t.mu.Unlock()
	if sp.ended || t.handed {
		return // ended already, or handed over unfinished
	}
	sp.ended = true
	if !sp.admitted {
		t.dropped++
		return
	}
	r := &sp.rec
	r.End = end
	if got != nil {
		r.Flags |= trace.HasRecv
		r.Source, r.SourceLocal, r.RecvTag, r.RecvSize, r.RecvPost = got.source, got.sourceLocal, got.tag, got.size, got.post
	}
	if err != nil {
		r.Flags |= trace.Failed
		r.Err = shortError(err)
	}
}

// endErr is end for a deferred call with a named error result.
func (sp *span) endErr(err *error) { sp.end(*err) }

// sends records that the call sends a message of size payload bytes to
// dest (a rank of c) with tag, and numbers it among the sends to that rank
// on c with that tag, as the receiver will take them.
func (sp *span) sends(c *Comm, dest, tag, size int) {
	if sp == nil {
		return
	}
	world := c.group[dest]
	sp.t.mu.Lock() // handOver may read sp.rec meanwhile
	defer sp.t.mu.Unlock()
	sp.rec.Flags |= trace.HasSend
	sp.rec.Dest, sp.rec.DestLocal, sp.rec.SendTag, sp.rec.SendSize = world, dest, tag, size
	sp.rec.SendSeq = sp.t.nextSend(seqKey{dest: world, comm: c.ctx, tag: tag})
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

// set changes the record of a call in progress (handOver may read it meanwhile).
func (sp *span) set(change func(r *trace.Record)) {
	sp.t.mu.Lock()
	defer sp.t.mu.Unlock()
	change(&sp.rec)
}

// post numbers a receive as it is posted (0 when tracing is off).
func (t *tracer) post() uint64 {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.posts++
	return t.posts
}

// received records the message req took, if it took one, and ends the
// call with err.
func (sp *span) received(req *Request, err error) {
	if sp == nil {
		return
	}
	if req != nil && req.recv != nil && req.comp != nil && req.comp.isDone() && req.comp.err == nil && req.recv.msg != nil {
		msg := req.recv.msg
		size := req.status.Size
		if size == 0 {
			size = bodySize(msg)
		}
		sp.endTaking(err, &recvPart{source: msg.env.source, sourceLocal: req.c.local[msg.env.source], tag: msg.env.tag,
			size: size, post: req.tracePost})
		return
	}
	sp.end(err)
}

// handOver sends the records to gorun (at most once): every call recorded,
// those still in progress marked Unfinished and ending now, in chunks of
// at most about control.TraceChunk bytes.
func (t *tracer) handOver(ctl *control.Client) error {
	t.mu.Lock()
	if t.handed {
		t.mu.Unlock()
		return nil
	}
	t.handed = true
	now := t.now()
	var chunks [][]byte
	var enc trace.Encoder
	for k, block := range t.blocks {
		for i := range min(spanBlock, t.used-k*spanBlock) {
			sp := &block[i]
			r := &sp.rec
			if !sp.ended {
				r.End, r.Flags = now, r.Flags|trace.Unfinished
				if r.Note == "" {
					r.Note = sp.want()
				}
			}
			enc.Add(r)
			if enc.Len() >= control.TraceChunk {
				chunks = append(chunks, enc.Bytes())
				enc = trace.Encoder{}
			}
		}
	}
	if enc.Len() > 0 {
		chunks = append(chunks, enc.Bytes())
	}
	dropped := t.dropped
	t.blocks = nil
	t.mu.Unlock()
	for _, chunk := range chunks {
		if err := ctl.Send(control.Message{Type: control.TypeTrace, Trace: chunk}); err != nil {
			return err
		}
	}
	return ctl.Send(control.Message{Type: control.TypeTraceEnd, Dropped: dropped})
}

// answerLauncher handles gorun --trace's messages to the rank: clock
// questions and the request to hand the trace over now.
func (t *tracer) answerLauncher(ctl *control.Client, m control.Message) {
	switch m.Type {
	case control.TypeClock:
		host := ""
		if t != nil {
			host = t.host
		}
		_ = ctl.Send(control.Message{Type: control.TypeClockReply, Round: m.Round, Clock: t.now(), Host: host})
	case control.TypeTraceFlush:
		if t != nil {
			_ = t.handOver(ctl)
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
