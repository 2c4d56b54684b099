package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/launchtrace"
	"github.com/gorun-mpi/gorun/internal/shm"
	"github.com/gorun-mpi/gorun/internal/trace"
)

// Clock alignment and the wait for the ranks' records.
const (
	clockSamples = 8 // clock exchanges per rank; the shortest round trip counts
	// traceFlushWait bounds how long a job ending early waits for the
	// records of its ranks on agents' hosts before SIGTERM (ranks on
	// gorun's host leave theirs in shared memory: no wait): with killGrace after it, the job is
	// still down within the 2 s the API promises (ranks answer in
	// milliseconds; one that does not loses its records).
	traceFlushWait = 500 * time.Millisecond
)

// traceCollector is gorun --trace on the launcher's side: it measures the
// clock of each rank an agent started against gorun's when the rank says
// hello (a rank gorun started reads gorun's clock), gathers the records of
// each rank, and writes the merged timeline. A rank it starts records into
// a shared memory buffer it made (newBuffer), which it reads as soon as
// the rank has closed it at Finalize or exited (exited), while the others
// still run; the
// records of a rank on an agent's host come over the control channel, from
// its agent once it has exited (agentTraces), or from the rank when asked
// as the job ends early (askFlush). It runs on the supervisor's goroutine.
// A nil *traceCollector is tracing off. With --hosts its messages to and
// from a rank go through the rank's agent (hosts_trace.go), which makes
// the clock exchanges' round trips, and so their error bounds, longer.
type traceCollector struct {
	path  string
	host  string // this host's boot id (trace.HostID)
	limit int
	start time.Time // gorun's trace clock: Unix time at start plus monotonic time since
	ranks []rankTrace
	asked map[int]bool // ranks asked to hand over their records now
	waitC <-chan time.Time
	noShm string // why the ranks record into their own memory, if one does
	// stamps marks the collector's steps (GORUN_LAUNCH_TRACE); nil: off.
	stamps *launchtrace.Stamps
	// early writes a JSON trace's lanes of the ranks that have finished
	// while the others still run, once the timeline's zero is known (see
	// writeEarly); nil until then. earlyFile is the trace file it writes
	// to; earlyOff: the file could not be opened, or the trace is a page.
	early     *trace.JSONWriter
	earlyFile *os.File
	earlyOff  bool
	// merged is the timeline of the ranks' records, merged (its messages
	// joined on a goroutine of their own) as soon as the last rank's are
	// read, while it exits: nil until every rank's are read from its
	// buffer. write fills in what its lanes say of their ranks.
	merged *trace.Timeline
}

// rankTrace is what the collector has of one rank.
type rankTrace struct {
	samples []trace.Sample
	sentAt  int64 // when the clock question in flight left
	records []trace.Record
	ended   bool // TypeTraceEnd arrived: the records are complete
	dropped uint64
	hello   bool
	// local: gorun started the rank, on its own host, so that the rank
	// reads gorun's clock: nothing to measure.
	local  bool
	host   string // the boot id of the rank's host, from its clock answers
	broken string // why a part of its records did not decode, if one did not
	// buffer is the shared memory file the rank records into
	// (trace.Buffer), open until read: once the rank has exited, or when
	// the trace is written. Nil for a rank on another host (its records
	// come over the control channel) or once read.
	buffer *os.File
	// fromBuffer: records and dropped were read from the buffer.
	fromBuffer bool
	// prepared is the rank's records as read from its buffer, put in
	// order on gorun's clock there and then (trace.Rank.Prepare), while
	// the others still ran: the merge at the end finds them ready.
	prepared trace.Rank
	// written: its lane is in the trace file already (writeEarly).
	written bool
}

// newBuffer makes the shared memory file rank records into, for its
// descriptor (startRank); nil when tracing is off or there is none (the
// rank then hands its records over at Finalize).
func (t *traceCollector) newBuffer(rank int) *os.File {
	if t == nil {
		return nil
	}
	f, err := shm.Create(fmt.Sprintf("gorun-trace-%d", rank), int64(trace.BufferSize(jobenv.TraceSlots(t.limit))))
	if err != nil {
		if t.noShm == "" {
			t.noShm = err.Error()
		}
		return nil
	}
	return f
}

// started notes that gorun started rank itself, on its own host, and
// keeps the buffer it started the rank with (f may be nil), to read once
// the rank has exited.
func (t *traceCollector) started(rank int, f *os.File) {
	if t == nil {
		return
	}
	t.ranks[rank].local = true
	if f != nil {
		t.ranks[rank].buffer = f
	}
}

// exited reads the records of a rank that has exited from its buffer,
// while the others still run. A call it had not returned from was open
// when it died: the record ends now.
func (t *traceCollector) exited(rank int) {
	if t == nil || rank < 0 || rank >= len(t.ranks) {
		return
	}
	t.readBuffer(&t.ranks[rank])
	if t.stamps != nil {
		t.stamps.MarkCPU(fmt.Sprintf("rank %d trace read (%d records)", rank, len(t.ranks[rank].records)))
	}
	t.writeEarly()
}

// readBuffer takes r's records from its buffer, if it has one the rank
// recorded into, and closes it. Calls still open end now (on the rank's
// clock).
func (t *traceCollector) readBuffer(r *rankTrace) {
	if r.buffer == nil {
		return
	}
	defer func() { r.buffer.Close(); r.buffer = nil }()
	off, _ := t.offset(*r)
	recs, dropped, err := trace.ReadBufferAt(r.records, r.buffer, int64(trace.BufferSize(jobenv.TraceSlots(t.limit))), t.now()+off)
	if errors.Is(err, trace.ErrNotFormatted) || errors.Is(err, trace.ErrHandedOver) {
		return // its records come over the control channel, if at all
	}
	r.records, r.dropped, r.fromBuffer = recs, dropped, true
	r.prepared = trace.Rank{Records: recs, Offset: off}
	r.prepared.Prepare()
	if err != nil && r.broken == "" {
		r.broken = err.Error()
	}
}

// newTraceCollector checks the trace file's name (.json or .html) and that
// it can be written, before anything starts.
func newTraceCollector(path string, np int, getenv func(string) string) (*traceCollector, error) {
	if path == "" {
		return nil, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json", ".html":
	default:
		return nil, fmt.Errorf("%w: --trace %s: the file must end in .json (Perfetto, chrome://tracing) or .html (a page of its own)", errUsage, path)
	}
	limit := jobenv.DefaultTraceLimit
	if v := getenv(jobenv.TraceLimit); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > jobenv.MaxTraceLimit {
			return nil, fmt.Errorf("%w: %s=%q is not a number of calls from 1 to %d", errUsage, jobenv.TraceLimit, v, jobenv.MaxTraceLimit)
		}
		limit = n
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: --trace: cannot write the trace: %v", errUsage, err)
	}
	f.Close()
	return &traceCollector{path: path, host: trace.HostID(), limit: limit, start: time.Now(), ranks: make([]rankTrace, np),
		stamps: launchtrace.New("gorun", getenv, os.Stderr)}, nil
}

// traceMemoryLimit is the heap size at which gorun --trace collects
// garbage (see relaxGC).
const traceMemoryLimit = 512 << 20

// relaxGC makes gorun, when it traces a job, collect garbage only once its
// heap nears traceMemoryLimit, unless GOGC or GOMEMLIMIT say otherwise (it
// changes the process's settings): taking the records over, merging them
// and writing the file allocate as they go, and collecting at the default
// pace cost about 8 ms of CPU for the bank example's 12,000 calls, a third
// of what tracing added (measured, alternated runs). Past the limit, which
// is soft, garbage is collected as usual.
func (t *traceCollector) relaxGC(getenv func(string) string) {
	if t == nil || getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(traceMemoryLimit)
	debug.SetGCPercent(-1)
}

// env is the variables that turn recording on in every rank gorun starts
// on its own host, saying they share gorun's clock (and turn it off when
// tracing is off, whatever gorun's own environment says).
func (t *traceCollector) env() []string {
	env := traceEnv(t.recordLimit())
	if t.recordLimit() > 0 {
		// gorun started these ranks on its own host: one clock.
		env = append(env, jobenv.TraceSameClock+"=1")
	}
	return env
}

// recordLimit is the most calls each rank records; 0 when tracing is off.
func (t *traceCollector) recordLimit() int {
	if t == nil {
		return 0
	}
	return t.limit
}

// traceEnv is the environment that has a rank record at most limit calls,
// or none when limit is 0 (whatever the environment of gorun, or of the
// agent that starts the rank, says), into memory of its own unless
// startRank gives it a buffer (jobenv.TraceFD, set after this).
func traceEnv(limit int) []string {
	if limit <= 0 {
		return []string{jobenv.Trace + "=", jobenv.TraceFD + "=", jobenv.TraceSameClock + "="}
	}
	return []string{jobenv.Trace + "=" + strconv.Itoa(limit), jobenv.TraceFD + "=", jobenv.TraceSameClock + "="}
}

func (t *traceCollector) now() int64 {
	return t.start.UnixNano() + int64(time.Since(t.start))
}

// onEvent takes the control events of tracing, returning true for those
// that are its alone; a hello starts the rank's clock exchanges.
func (t *traceCollector) onEvent(server controlServer, ev control.Event) bool {
	if t == nil || ev.Closed || ev.Synced || ev.Rank < 0 || ev.Rank >= len(t.ranks) {
		return false
	}
	r := &t.ranks[ev.Rank]
	switch ev.Msg.Type {
	case control.TypeHello:
		r.hello = true
		if r.local {
			// One clock: the rank need not wait at Finalize for
			// questions (8 round trips through its control goroutine,
			// which a busy rank answers late).
			_ = server.Send(ev.Rank, control.Message{Type: control.TypeClockDone})
		} else {
			t.askClock(server, ev.Rank)
		}
		return false
	case control.TypeClockReply:
		// Every answer leads to the next question or to clock-done, for
		// which the rank waits at Finalize: an answer out of turn ends
		// the exchanges rather than leave the rank waiting.
		if int(ev.Msg.Round) == len(r.samples)+1 && r.sentAt != 0 {
			r.samples = append(r.samples, trace.Sample{Sent: r.sentAt, Remote: ev.Msg.Clock, Received: t.now()})
			r.host = ev.Msg.Host
			if len(r.samples) < clockSamples {
				t.askClock(server, ev.Rank)
				break
			}
		}
		r.sentAt = 0
		_ = server.Send(ev.Rank, control.Message{Type: control.TypeClockDone})
	case control.TypeClockWait:
		// The rank waits at Finalize and has not had clock-done: a
		// question, its answer or the clock-done itself was lost on the
		// way (an agent relays them over NATS). End the exchanges with
		// the samples taken so far (asking again would time a late
		// answer from the new question, too short a round trip).
		r.sentAt = 0
		_ = server.Send(ev.Rank, control.Message{Type: control.TypeClockDone})
	case control.TypeTrace:
		if r.fromBuffer {
			break // its buffer said all (a rank of another version)
		}
		// A rank records at most its limit plus the receives it had
		// posted when full; ignore anything beyond twice that.
		if !r.ended && len(r.records) <= 2*t.limit {
			var err error
			// Room for the chunk's records at once (a record takes 12 bytes
			// or more), not a growth by doubling of 150-byte records.
			r.records = slices.Grow(r.records, len(ev.Msg.Trace)/12)
			if r.records, err = trace.DecodeRecords(r.records, ev.Msg.Trace); err != nil && r.broken == "" {
				r.broken = err.Error()
			}
		}
	case control.TypeTraceEnd:
		r.ended, r.dropped = true, ev.Msg.Dropped
	case control.TypeTraceClosed, control.TypeFinalized:
		// A rank closes its buffer at Finalize, before its goodbyes to
		// its peers (TypeTraceClosed), and before it says it finalized:
		// its records are final, and reading them now, while it says
		// goodbye and exits, takes that off the end of the job (the last
		// rank's are many).
		if r.buffer != nil && trace.BufferClosed(r.buffer) {
			t.readBuffer(r)
			t.stamps.MarkCPU(fmt.Sprintf("rank %d trace read at Finalize (%d records)", ev.Rank, len(r.records)))
			t.writeEarly()
		}
		return ev.Msg.Type == control.TypeTraceClosed
	default:
		return false
	}
	return true
}

func (t *traceCollector) askClock(server controlServer, rank int) {
	r := &t.ranks[rank]
	r.sentAt = t.now()
	if err := server.Send(rank, control.Message{Type: control.TypeClock, Round: uint64(len(r.samples) + 1)}); err != nil {
		r.sentAt = 0
		// No more questions: do not keep the rank waiting for them at
		// Finalize (if this cannot reach it either, its connection is
		// gone, and so is its wait).
		_ = server.Send(rank, control.Message{Type: control.TypeClockDone})
	}
}

// askFlush asks the live ranks that have not handed over their records to
// do so now: the job is ending early. It returns false when there is
// nothing to wait for; otherwise the supervisor waits until flushed()
// (every asked rank answered) or flushTimeout() fires.
func (t *traceCollector) askFlush(server controlServer, live []int) bool {
	if t == nil {
		return false
	}
	t.asked = map[int]bool{}
	for _, rank := range live {
		if r := &t.ranks[rank]; r.hello && !r.ended && r.buffer == nil {
			if server.Send(rank, control.Message{Type: control.TypeTraceFlush}) == nil {
				t.asked[rank] = true
			}
		}
	}
	if len(t.asked) == 0 {
		return false
	}
	t.waitC = time.After(traceFlushWait)
	return true
}

// flushed reports whether every rank asked by askFlush has answered.
func (t *traceCollector) flushed() bool {
	if t == nil || t.asked == nil {
		return true
	}
	for rank := range t.asked {
		if !t.ranks[rank].ended {
			return false
		}
	}
	return true
}

// flushTimeout fires when the wait for the asked ranks is over.
func (t *traceCollector) flushTimeout() <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.waitC
}

// write merges what the ranks handed over and writes the trace file; it
// returns a line for gorun to print about what the trace lacks, if
// anything.
func (t *traceCollector) write(title string) (warnings []string, err error) {
	if t == nil {
		return nil, nil
	}
	t.stamps.MarkCPU("trace: writing")
	ranks := make([]trace.Rank, len(t.ranks))
	for i := range t.ranks {
		t.readBuffer(&t.ranks[i]) // a rank gorun gave up waiting for
		r := t.ranks[i]
		off, clock := t.offset(r)
		ranks[i] = trace.Rank{Records: r.records, Offset: off}
		if r.fromBuffer {
			ranks[i] = r.prepared // on gorun's clock already
		}
		ranks[i].Dropped, ranks[i].Clock, ranks[i].Missing = r.dropped, clock, missing(r)
		if ranks[i].Missing != "" {
			warnings = append(warnings, fmt.Sprintf("trace: rank %d %s", i, ranks[i].Missing))
		}
		if r.dropped > 0 {
			warnings = append(warnings, fmt.Sprintf("trace: rank %d recorded its first %d calls only (%d more were not recorded; raise %s)",
				i, len(r.records), r.dropped, jobenv.TraceLimit))
		}
	}
	if t.noShm != "" {
		warnings = append(warnings, "trace: no shared memory for the ranks' records ("+t.noShm+"): a rank hands them over at Finalize, and those of a rank that dies are lost")
	}
	t.stamps.MarkCPU("trace: every rank's records read")
	// The messages are joined on a goroutine of their own while the
	// lanes are written: the job is over, its cores are free.
	tl := t.merged
	if tl != nil {
		// Merged as the last rank exited: what the lanes say of their
		// ranks is said now (the joining reads only their calls).
		for i := range tl.Lanes {
			tl.Lanes[i].Dropped, tl.Lanes[i].Missing, tl.Lanes[i].Clock = ranks[i].Dropped, ranks[i].Missing, ranks[i].Clock
		}
	} else {
		tl = trace.MergeMatching(ranks)
	}
	t.stamps.MarkCPU("trace: lanes merged")
	f, err := t.traceFile()
	if err != nil {
		return warnings, fmt.Errorf("trace: %w", err)
	}
	switch {
	case strings.ToLower(filepath.Ext(t.path)) == ".html":
		err = trace.WriteHTML(f, tl, title)
	case t.early != nil:
		if err = t.early.Finish(tl); errors.Is(err, trace.ErrOriginMoved) {
			// Not the zero the lanes written were written from (a rank's
			// first call was not its earliest record): all anew.
			if _, err = f.Seek(0, io.SeekStart); err == nil {
				err = trace.WriteJSON(f, tl)
			}
		}
	default:
		err = trace.WriteJSON(f, tl)
	}
	t.stamps.MarkCPU("trace: encoded and written")
	if err == nil {
		err = cutAtOffset(f)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("trace: %w", cerr)
	}
	t.stamps.MarkCPU("trace: file closed")
	return warnings, err
}

// missing says why r's records are absent or end early ("" when they are
// whole).
func missing(r rankTrace) string {
	why := ""
	switch {
	case !r.hello:
		why = "never joined the job (no mpi.Init)"
	case !r.ended && !r.fromBuffer:
		why = "ended without handing over its trace: the calls it made are missing"
	}
	if r.broken != "" && why == "" {
		why = "left records that did not decode (" + r.broken + "): some calls are missing"
	}
	return why
}

// traceFile is the trace file, open for writing from its start: the one
// writeEarly opened, or the file at t.path. The file is written over,
// then cut where the trace ends, rather than emptied first: writing over
// an older trace's pages of cache costs less than freeing them and taking
// new ones (and ext4 writes a file emptied and written again out at once
// when it is closed).
func (t *traceCollector) traceFile() (*os.File, error) {
	if t.earlyFile != nil {
		return t.earlyFile, nil
	}
	return os.OpenFile(t.path, os.O_WRONLY|os.O_CREATE, 0o644)
}

// writeEarly writes into a JSON trace the lanes of the ranks whose records
// are read, while the others still run: what is left to do once the job
// is over, the last rank's lane and the messages, is then all the job
// waits for (the bank example: ranks 1 to 3 finish well before rank 0,
// their 6,000 calls a third of the file). It can once the timeline's zero
// is known, which is when every rank started by gorun has recorded a call
// into its buffer (its first is its earliest: trace.FirstStart) or has
// finished; never for ranks on other hosts, whose records come at the end.
// A lane is written early only if nothing it says can change by then.
func (t *traceCollector) writeEarly() {
	t.mergeEarly()
	if t.earlyOff {
		return
	}
	if t.early == nil {
		if strings.ToLower(filepath.Ext(t.path)) != ".json" {
			t.earlyOff = true
			return
		}
		origin, ok := t.knownOrigin()
		if !ok {
			return
		}
		f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			t.earlyOff = true // write says why, at the end
			return
		}
		t.earlyFile, t.early = f, trace.NewJSONWriter(f, len(t.ranks), origin)
	}
	for i := range t.ranks {
		r := &t.ranks[i]
		if r.fromBuffer && !r.written && r.hello && missing(*r) == "" {
			t.early.Lane(trace.Lane{Rank: i, Calls: r.prepared.Records, Dropped: r.dropped})
			r.written = true
			t.stamps.MarkCPU(fmt.Sprintf("rank %d lane written early", i))
		}
	}
}

// mergeEarly merges the ranks' records as soon as every rank's are read
// from its buffer, joining the messages on a goroutine of its own while
// the last rank exits (see merged).
func (t *traceCollector) mergeEarly() {
	if t.merged != nil {
		return
	}
	ranks := make([]trace.Rank, len(t.ranks))
	for i := range t.ranks {
		if !t.ranks[i].fromBuffer {
			return
		}
		ranks[i] = t.ranks[i].prepared
	}
	t.merged = trace.MergeMatching(ranks)
	t.stamps.MarkCPU("trace: lanes merged early")
}

// knownOrigin is the timeline's zero on gorun's clock, the earliest start
// of any rank's calls, if it is known already: every rank gorun started
// has finished recording, or recorded a call into its buffer (and its
// clock is gorun's); false otherwise.
func (t *traceCollector) knownOrigin() (int64, bool) {
	origin, any := int64(0), false
	for i := range t.ranks {
		r := &t.ranks[i]
		var first int64
		var ok bool
		switch {
		case !r.local:
			return 0, false
		case r.fromBuffer:
			if first, ok = r.prepared.First(); !ok {
				continue // no calls: no say in the zero
			}
		case r.buffer != nil:
			if first, ok = trace.FirstStart(r.buffer); !ok {
				return 0, false
			}
		default:
			return 0, false
		}
		if off, _ := t.offset(*r); off != 0 {
			return 0, false
		}
		if !any || first < origin {
			origin, any = first, true
		}
	}
	return origin, any
}

// cutAtOffset ends the regular file f where its writing has reached,
// cutting off what an older file held beyond (other files, e.g. a device,
// are left as they are).
func cutAtOffset(f *os.File) error {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	end, err := f.Seek(0, io.SeekCurrent)
	if err == nil {
		err = f.Truncate(end)
	}
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	return nil
}

// endFlush ends the wait for the ranks' traces of a job ending early.
func (s *supervisor) endFlush() {
	if !s.flushing {
		return
	}
	s.flushing = false
	s.terminate()
}

// writeTrace writes the --trace file once the job is over, saying what it
// lacks; a trace that cannot be written fails a job that succeeded.
func (s *supervisor) writeTrace() {
	defer s.stamps.MarkCPU("trace written, if any")
	if s.trace == nil {
		return
	}
	title := fmt.Sprintf("gorun -np %d %s %s (exit status %d)", s.cfg.np, s.cfg.program, strings.Join(s.cfg.args, " "), s.status)
	warnings, err := s.trace.write(title)
	for _, w := range warnings {
		s.stderr.line("gorun: " + w)
	}
	if err != nil {
		s.stderr.line("gorun: cannot write the trace: " + err.Error())
		if s.status == 0 {
			s.status = 1
		}
	}
}

// offset is how far rank r's clock is ahead of gorun's, and how that was
// found: 0 for a rank gorun started itself, with no exchange, and for one
// on gorun's host (one kernel, one clock: the exchanges' estimate, given
// for comparison, can only add error), the estimate from the exchange with
// the shortest round trip otherwise.
// "Gorun's host" is a fact, not a name: the rank reported the boot id
// gorun reads. A rank on an agent on another machine reports another
// one (boot ids are drawn at random at each boot), so it gets the
// estimate; one on an agent in a container or network namespace of
// gorun's own kernel reads the very clock gorun reads, and gets 0.
func (t *traceCollector) offset(r rankTrace) (int64, string) {
	if r.local {
		return 0, "started by gorun on its host, one clock: offset 0"
	}
	off, bound, err := trace.Offset(r.samples)
	measured := "no clock exchange answered"
	if err == nil {
		measured = fmt.Sprintf("measured %+.1f us ± %.1f us over %d exchanges", float64(off)/1e3, float64(bound)/1e3, len(r.samples))
	}
	switch {
	case t.host != "" && r.host == t.host:
		return 0, "same host as gorun, one clock: offset 0 (" + measured + ")"
	case err != nil:
		return 0, "offset unknown, taken as 0: " + measured
	}
	return off, "offset " + measured
}
