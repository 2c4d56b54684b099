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
type tracer struct {
	base     time.Time // the clock's start, with its monotonic reading
	baseUnix int64     // base as Unix nanoseconds
	host     string    // this host's boot id (trace.HostID)

	mu       sync.Mutex
	limit    int
	records  recordList
	open     map[*span]struct{} // calls begun and not ended, admitted or not
	admitted int                // open calls that will be recorded
	dropped  uint64
	sendSeq  map[seqKey]uint64 // sends so far per destination, communicator and tag
	posts    uint64            // receives posted so far
	handed   bool              // the records went to gorun
}

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
		open: map[*span]struct{}{}, sendSeq: map[seqKey]uint64{}}, nil
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
	admitted bool
	// What a receive in progress waits for, said (want) when the trace is
	// taken before it returns: formatted only then, since most calls
	// return first.
	wanted     bool
	wantPrefix string // e.g. "Irecv " for a Wait
	wantWord   string // "source", or "dest" for a send
	wantSource int
	wantTag    int
}

// want describes what the unfinished call waited for.
func (sp *span) want() string {
	if !sp.wanted {
		return ""
	}
	return sp.wantPrefix + wantText(sp.wantWord, sp.wantSource, sp.wantTag)
}

// begin starts recording a call named op on communicator context comm.
// It returns nil once the records were handed over.
func (t *tracer) begin(op string, comm uint32, force bool) *span {
	sp := &span{t: t, rec: trace.Record{Op: op, Comm: comm}}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.handed {
		return nil
	}
	sp.admitted = force || t.records.n+t.admitted < t.limit
	if sp.admitted {
		t.admitted++
	}
	t.open[sp] = struct{}{}
	sp.rec.Start = t.now()
	return sp
}

// end records the call, unless it was not admitted (the buffer was full).
func (sp *span) end(err error) {
	if sp == nil {
		return
	}
	t := sp.t
	end := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, open := t.open[sp]; !open {
		return // ended already, or handed over unfinished
	}
	delete(t.open, sp)
	if !sp.admitted {
		t.dropped++
		return
	}
	t.admitted--
	sp.rec.End = end
	if err != nil {
		sp.rec.Flags |= trace.Failed
		sp.rec.Err = shortError(err)
	}
	t.records.add(sp.rec)
}

// recordList holds records in blocks of recordBlock, so that recording
// never copies what it holds already.
type recordList struct {
	blocks [][]trace.Record
	n      int
}

const recordBlock = 1024

func (l *recordList) add(r trace.Record) {
	if len(l.blocks) == 0 || len(l.blocks[len(l.blocks)-1]) == recordBlock {
		l.blocks = append(l.blocks, make([]trace.Record, 0, recordBlock))
	}
	last := &l.blocks[len(l.blocks)-1]
	*last = append(*last, r)
	l.n++
}

// all returns the records in the order they were added.
func (l *recordList) all() []trace.Record {
	out := make([]trace.Record, 0, l.n)
	for _, b := range l.blocks {
		out = append(out, b...)
	}
	return out
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
	key := seqKey{dest: world, comm: c.ctx, tag: tag}
	sp.t.sendSeq[key]++
	sp.rec.Flags |= trace.HasSend
	sp.rec.Dest, sp.rec.DestLocal, sp.rec.SendTag, sp.rec.SendSize, sp.rec.SendSeq = world, dest, tag, size, sp.t.sendSeq[key]
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
		sp.set(func(r *trace.Record) {
			r.Flags |= trace.HasRecv
			r.Source, r.SourceLocal, r.RecvTag = msg.env.source, req.c.local[msg.env.source], msg.env.tag
			r.RecvSize, r.RecvPost = size, req.tracePost
		})
	}
	sp.end(err)
}

// handOver sends the records to gorun (at most once): every call recorded,
// and the calls in progress, marked Unfinished and ending now.
func (t *tracer) handOver(ctl *control.Client) error {
	t.mu.Lock()
	if t.handed {
		t.mu.Unlock()
		return nil
	}
	t.handed = true
	recs, now := t.records.all(), t.now()
	for sp := range t.open {
		if sp.admitted {
			r := sp.rec
			r.End, r.Flags = now, r.Flags|trace.Unfinished
			if r.Note == "" {
				r.Note = sp.want()
			}
			recs = append(recs, r)
		}
	}
	dropped := t.dropped
	t.records, t.open = recordList{}, nil
	t.mu.Unlock()
	var chunk []byte
	for i, r := range recs {
		chunk = trace.AppendRecord(chunk, r)
		if len(chunk) >= control.TraceChunk || i == len(recs)-1 {
			if err := ctl.Send(control.Message{Type: control.TypeTrace, Trace: chunk}); err != nil {
				return err
			}
			chunk = chunk[:0]
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
