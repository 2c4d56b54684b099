package trace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"unsafe"
)

// A Buffer is where a rank records its calls as it makes them: a header,
// a log of entries and an area for texts. Under gorun it lies in a shared
// memory file that gorun made for the rank, so that gorun reads the
// records straight from the memory once the rank has exited, however it
// exited (Finalize, panic, os.Exit, SIGKILL): nothing is handed over, and
// the calls of a rank that died are there up to its death, the one it
// died in still open. Without that file the rank records into its own
// memory and hands the records over at Finalize (Encoder).
//
// A call writes an entry when it begins (Begin: the call, its
// communicator, its start and what it waits for), one when it sends
// (Send), one when it is noted (Note) and one when it ends (End: its end,
// the message it took, its error). An entry counts once the header's
// count of log bytes says it is there, which the rank moves past it once
// it is whole: a rank that dies while writing one leaves the calls as
// they were before it. Entries are varints, times differences from the
// time the entry before wrote, a call named by how many calls began after
// it: a call of the bank example takes about 20 bytes, not the 120 of a
// fixed slot, so that a rank makes far fewer pages present and gorun
// reads far fewer.
//
// The memory is written by the rank and read by gorun, which trusts
// nothing in it: ReadBuffer checks every count, offset and code.

// bufferMagic opens a formatted buffer ("gortrc" and the layout's
// version: 3, a log of entries; 2 and 1 were fixed-size slots).
const bufferMagic uint64 = 0x0003_6372_7472_6f67

// header is the start of a buffer.
type header struct {
	magic    uint64
	callMax  uint32 // the most log bytes a call takes (maxCallBytes)
	capacity uint32 // calls
	textCap  uint32 // bytes of the text area
	calls    uint32 // calls begun
	logUsed  uint64 // bytes of the log written
	textUsed uint32 // bytes of the text area taken
	closed   uint32 // closedHere or closedHandedOver: the rank stopped recording at closedAt
	dropped  uint64 // calls not recorded: the limit was reached
	closedAt int64
	_        [8]byte
}

const headerSize = int(unsafe.Sizeof(header{}))

// LogStart is where a buffer's first entry lies in its memory.
const LogStart = headerSize

// The kinds of entries, the first byte of each.
const (
	entryBegin = 1 + iota
	entrySend
	entryEnd
	entryNote
)

// The most bytes of each kind of entry (uvarints of 64 bits take 10 bytes,
// of 32 bits 5; zigzag varints of 32-bit values 5), and of all the entries
// of one call: its begin, a send, one note and its end.
const (
	maxBegin     = 1 + 1 + 5 + 5 + 5 + 10 + 1 + 1 + 5 + 5 // kind, op, name ref, comm, start, wait word, op, peer, tag
	maxSend      = 1 + 5 + 5 + 5 + 5 + 10 + 10            // kind, call, dest, local, tag, size, seq
	maxEnd       = 1 + 5 + 10 + 1 + 5 + 5 + 5 + 10 + 10 + 5 + 5
	maxNote      = 1 + 5 + 5 + 5
	maxCallBytes = maxBegin + maxSend + maxEnd + maxNote
)

// Wait is what a call waits for, which gorun says of a call that had not
// returned: for a Wait the code of the call waited on (OpCode, 0 if none),
// and Word: WaitSource or WaitDest (0 if it waits for nothing to say),
// with WaitAnyPeer and WaitAnyTag for "any".
type Wait struct {
	Op, Word  uint8
	Peer, Tag int32
}

// What an open call waits for (Wait.Word), and bits for "any" peer or tag.
const (
	WaitSource  = 1
	WaitDest    = 2
	WaitAnyPeer = 1 << 6
	WaitAnyTag  = 1 << 7
)

// SendPart is the message a call sent (see Record's send part).
type SendPart struct {
	Dest, DestLocal, Tag int
	Size                 int
	Seq                  uint64
}

// RecvPart is the message a call took (see Record's receive part).
type RecvPart struct {
	Source, SourceLocal, Tag int
	Size                     int
	Post                     uint64
}

type textRef struct{ off, len uint32 }

// BufferSize is the bytes a buffer of capacity calls takes: a log room for
// the most each call may write and a text area of 32 bytes a call on
// average (most calls have no text). Pages of a shared memory file are
// allocated when first written, so capacity may be generous.
func BufferSize(capacity int) int {
	return headerSize + capacity*maxCallBytes + textArea(capacity)
}

func textArea(capacity int) int { return capacity*32 + 4096 }

// maxBufferCalls is the most calls whose buffer's size fits an int (on a
// 32-bit platform, about 11 million; the header's count, a uint32, bounds
// it on 64-bit ones).
const maxBufferCalls = (math.MaxInt - headerSize - 4096) / (maxCallBytes + 32)

// Buffer is a rank's side of a buffer: it writes the entries of its calls.
// It is not safe for concurrent use (the rank's tracer holds a lock).
type Buffer struct {
	h    *header
	log  []byte
	text []byte
	used int   // bytes of the log written (h.logUsed, kept here too)
	prev int64 // the last time written in the log
	open int   // calls begun and not ended: the log keeps room for their entries
	// The log's bytes before ready have their pages present (populate);
	// the next entry past it makes the pages of step more bytes so, a
	// step twice the last up to maxPopulate: a rank that makes few calls
	// takes few pages, one that makes many takes them in few system
	// calls.
	ready, step int
	noPopulate  bool // the kernel cannot: pages come as they are written
	// The name of the call that began last and its code: a rank mostly
	// makes the same call again (OpCode compares names one by one).
	lastOp   string
	lastCode uint8
}

// The first and largest steps in which a Buffer makes its pages present.
// A step stalls the rank while the kernel makes its pages (about 4 us a
// page of shared memory here), and its peers with it: at 256 KiB, a traced
// 8-byte ping-pong paid 0.25 ms every 2,000 calls and its mean doubled
// (0.50 -> 1.05 us, p99 16 us); at 64 KiB it is 0.66-0.69 us, p99 5-6 us
// (tests/tracebench.sh's pingpong part, 10 runs each), the bank example
// unchanged.
const (
	firstPopulate = 16 << 10
	maxPopulate   = 64 << 10
	pageSize      = 4 << 10 // the smallest page of the platforms gorun runs on
)

// NewBuffer formats mem, which must be BufferSize(capacity) bytes or more
// and 8-byte aligned, as an empty buffer of capacity calls.
func NewBuffer(mem []byte, capacity int) (*Buffer, error) {
	if capacity < 1 || uint64(capacity) > 1<<31 || capacity > maxBufferCalls || len(mem) < BufferSize(capacity) {
		return nil, fmt.Errorf("trace: a buffer of %d calls needs %d bytes, not %d", capacity, BufferSize(capacity), len(mem))
	}
	if uintptr(unsafe.Pointer(&mem[0]))%8 != 0 {
		return nil, errors.New("trace: a buffer's memory must be 8-byte aligned")
	}
	clear(mem[:headerSize])
	h := (*header)(unsafe.Pointer(&mem[0]))
	logEnd := headerSize + capacity*maxCallBytes
	b := &Buffer{h: h, log: mem[headerSize:logEnd:logEnd], text: mem[logEnd:BufferSize(capacity)]}
	h.callMax, h.capacity, h.textCap = uint32(maxCallBytes), uint32(capacity), uint32(len(b.text))
	h.magic = bufferMagic
	return b, nil
}

// Begin records that a call named op began at start on communicator
// context comm, waiting as w says, and returns its number; -1, recording
// nothing, when the buffer holds capacity calls.
func (b *Buffer) Begin(op string, comm uint32, start int64, w Wait) int {
	call := int(b.h.calls)
	if call >= int(b.h.capacity) || b.used+(b.open+1)*maxCallBytes > len(b.log) {
		return -1
	}
	if b.used+(b.open+1)*maxCallBytes > b.ready && !b.noPopulate {
		b.populateFrom(b.used)
	}
	var name textRef
	code := b.lastCode
	if op != b.lastOp || code == 0 {
		code = OpCode(op)
		b.lastOp, b.lastCode = op, code
	}
	if code == 0 {
		name = b.store(op)
	}
	e := append(b.log[:b.used], entryBegin, code)
	if code == 0 {
		e = appendRef(e, name)
	}
	e = appendUvarint(e, uint64(comm))
	e = b.appendTime(e, start)
	e = append(e, w.Word)
	if w.Word != 0 {
		e = append(e, w.Op)
		e = appendVarint(e, int64(w.Peer))
		e = appendVarint(e, int64(w.Tag))
	}
	b.open++
	b.h.calls++
	b.publish(e)
	return call
}

// Send records the message call sent.
func (b *Buffer) Send(call int, p SendPart) {
	e, ok := b.entry(entrySend, call, maxSend)
	if !ok {
		return
	}
	e = appendVarint(e, int64(p.Dest))
	e = appendVarint(e, int64(p.DestLocal))
	e = appendVarint(e, int64(p.Tag))
	e = appendVarint(e, int64(p.Size))
	e = appendUvarint(e, p.Seq)
	b.publish(e)
}

// Note records a text of call's (at most one a call: a call's room in the
// log holds one note).
func (b *Buffer) Note(call int, text string) {
	ref := b.store(text)
	e, ok := b.entry(entryNote, call, maxNote)
	if !ok || ref.len == 0 {
		return
	}
	b.publish(appendRef(e, ref))
}

// End records that call returned at end, having taken the message got
// (nil if none), failing with errText if it failed.
func (b *Buffer) End(call int, end int64, got *RecvPart, failed bool, errText string) {
	var errRef textRef
	if failed {
		errRef = b.store(errText)
	}
	e, ok := b.entry(entryEnd, call, maxEnd)
	if !ok {
		return
	}
	b.open--
	e = b.appendTime(e, end)
	var f Flags
	if got != nil {
		f |= HasRecv
	}
	if failed {
		f |= Failed
	}
	e = append(e, byte(f))
	if got != nil {
		e = appendVarint(e, int64(got.Source))
		e = appendVarint(e, int64(got.SourceLocal))
		e = appendVarint(e, int64(got.Tag))
		e = appendVarint(e, int64(got.Size))
		e = appendUvarint(e, got.Post)
	}
	if failed {
		e = appendRef(e, errRef)
	}
	b.publish(e)
}

// entry starts an entry of kind about call, which takes at most size
// bytes; false if call is no call of the buffer's or there is no room
// (which the room kept for each call open rules out).
func (b *Buffer) entry(kind byte, call int, size int) ([]byte, bool) {
	calls := int(b.h.calls)
	if call < 0 || call >= calls || b.used+size > len(b.log) {
		return nil, false
	}
	if b.used+size > b.ready && !b.noPopulate {
		b.populateFrom(b.used)
	}
	return appendUvarint(append(b.log[:b.used], kind), uint64(calls-1-call)), true
}

// publish makes the entries in e, written past the log's used bytes,
// count: the reader reads the log up to the header's count.
func (b *Buffer) publish(e []byte) {
	b.used = len(e)
	b.h.logUsed = uint64(b.used)
}

// appendTime appends t as the difference from the last time written.
func (b *Buffer) appendTime(e []byte, t int64) []byte {
	e = appendVarint(e, t-b.prev)
	b.prev = t
	return e
}

// populateFrom makes present the pages of the next step of the log from
// byte off on.
func (b *Buffer) populateFrom(off int) {
	b.step = min(max(2*b.step, firstPopulate), maxPopulate)
	first := uintptr(unsafe.Pointer(unsafe.SliceData(b.log))) + uintptr(off)
	lead := int(first % pageSize) // from the start of its page
	end := min(off+b.step-lead, len(b.log))
	end = max(end, min(off+(b.open+1)*maxCallBytes, len(b.log)))
	n := end - off + lead
	if !populate(first-uintptr(lead), (n+pageSize-1)/pageSize*pageSize) {
		b.noPopulate = true
		return
	}
	b.ready = end
}

// Used is how many calls began.
func (b *Buffer) Used() int { return int(b.h.calls) }

// Drop counts a call that was not recorded.
func (b *Buffer) Drop() { b.h.dropped++ }

// Close marks the buffer as ended at now: calls still open were open then.
func (b *Buffer) Close(now int64) {
	b.h.closedAt = now
	b.h.closed = closedHere
}

// HandedOver marks the buffer as ended at now with its records sent to
// gorun another way (the control channel): the reader of the memory
// leaves them (see HandedOver).
func (b *Buffer) HandedOver(now int64) {
	b.h.closedAt = now
	b.h.closed = closedHandedOver
}

// The values of header.closed.
const (
	closedHere       = 1
	closedHandedOver = 2
)

// store copies text into the text area, cut at maxString bytes; a text
// that does not fit any more is left out.
func (b *Buffer) store(text string) textRef {
	text = text[:min(len(text), maxString)]
	off := int(b.h.textUsed)
	if len(text) == 0 || off+len(text) > len(b.text) {
		return textRef{}
	}
	copy(b.text[off:], text)
	b.h.textUsed += uint32(len(text))
	return textRef{off: uint32(off), len: uint32(len(text))}
}

// OpCode is the code of a call's name in a buffer, 0 for a name with none.
func OpCode(op string) uint8 {
	if op == "" {
		return 0
	}
	if i := indexOp(op); i >= 0 {
		return uint8(i + 1)
	}
	return 0
}

func indexOp(op string) int {
	for i, known := range knownOps {
		if known == op {
			return i
		}
	}
	return -1
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendVarint appends v zigzag-encoded (small negative numbers short).
func appendVarint(b []byte, v int64) []byte {
	return appendUvarint(b, uint64(v<<1)^uint64(v>>63))
}

func appendRef(b []byte, r textRef) []byte {
	return appendUvarint(appendUvarint(b, uint64(r.off)), uint64(r.len))
}

// ErrNotFormatted reports a buffer that no rank formatted: the rank never
// began recording (it did not call mpi.Init, or recorded into its own
// memory instead).
var ErrNotFormatted = errors.New("trace: the rank did not record into its buffer")

// ErrHandedOver reports a buffer whose records went to gorun another way
// (Buffer.HandedOver): reading them from the memory would count them twice.
var ErrHandedOver = errors.New("trace: the rank handed its records over")

// ReadBuffer reads the records of a buffer written by a rank, appending
// them to out in the order the calls began; dropped is the number of calls
// it did not record. A call still open was open when the rank stopped
// recording (Finalize) or, if it never did, when it died: its record is
// marked Unfinished, ends at that time (openEnd, on the rank's clock, for
// a rank that died), and its Note says what it waited for. The memory is
// checked, not trusted: a call whose entries do not make a record is left
// out, the log is read up to the first entry that does not decode, and
// either is reported by an error wrapping ErrMalformed, after the records
// that hold; a buffer never formatted fails with ErrNotFormatted, one
// whose records were handed over another way with ErrHandedOver.
func ReadBuffer(out []Record, mem []byte, openEnd int64) (_ []Record, dropped uint64, err error) {
	return ReadBufferAt(out, bytes.NewReader(mem), int64(len(mem)), openEnd)
}

// readHeader reads the header of the buffer in r.
func readHeader(r io.ReaderAt) (header, error) {
	var h header
	err := readAt(r, unsafe.Slice((*byte)(unsafe.Pointer(&h)), headerSize), 0)
	return h, err
}

// BufferClosed reports whether the buffer in r says the rank stopped
// recording (Buffer.Close, Buffer.HandedOver): its records are final, to
// be read at once.
func BufferClosed(r io.ReaderAt) bool {
	h, err := readHeader(r)
	return err == nil && h.magic == bufferMagic && h.closed != 0
}

// FirstStart is the start of the first call recorded in the buffer in r,
// which a rank may still be writing: the earliest of its calls (a rank
// writes its calls' begin entries in the order its calls begin, reading
// the clock as it writes them). False when it has recorded none yet.
func FirstStart(r io.ReaderAt) (int64, bool) {
	h, err := readHeader(r)
	if err != nil || h.magic != bufferMagic || h.callMax != maxCallBytes || h.logUsed == 0 || h.closed == closedHandedOver {
		return 0, false
	}
	first := make([]byte, min(h.logUsed, maxBegin))
	if readAt(r, first, int64(headerSize)) != nil {
		return 0, false
	}
	d := logDecoder{b: first}
	if d.next() != entryBegin {
		return 0, false
	}
	if d.next() == 0 {
		d.uvarint()
		d.uvarint()
	}
	d.uvarint()
	start := d.varint()
	return start, !d.bad
}

// logChunk is how many bytes of a log ReadBufferAt reads with one call.
const logChunk = 64 << 10

// ReadBufferAt is ReadBuffer for a buffer of size bytes read from r, the
// shared memory file it lies in, rather than mapped: gorun reads a rank's
// records once, and mapping the file cost it more (a page fault for every
// few pages read) than copying them out of it does.
func ReadBufferAt(out []Record, r io.ReaderAt, size, openEnd int64) (_ []Record, dropped uint64, err error) {
	if size < int64(headerSize) {
		return out, 0, fmt.Errorf("%w: a buffer of %d bytes, shorter than its header", ErrMalformed, size)
	}
	h, err := readHeader(r)
	if err != nil {
		return out, 0, err
	}
	switch {
	case h.magic == 0:
		return out, 0, ErrNotFormatted
	case h.magic != bufferMagic || h.callMax != maxCallBytes:
		return out, 0, fmt.Errorf("%w: a buffer of another layout (magic %#x, version %d; this gorun reads version %d): the program was built with another version of package mpi than this gorun", ErrMalformed, h.magic, h.magic>>48, bufferMagic>>48)
	case h.closed == closedHandedOver:
		return out, h.dropped, ErrHandedOver
	}
	capacity := int64(h.capacity)
	logCap := capacity * maxCallBytes
	if capacity < 1 || int64(headerSize)+logCap+int64(h.textCap) > size {
		return out, 0, fmt.Errorf("%w: a buffer of %d calls and %d bytes of text does not fit its %d bytes", ErrMalformed, h.capacity, h.textCap, size)
	}
	var problems []string
	logUsed := int64(min(h.logUsed, uint64(logCap)))
	if h.logUsed > uint64(logCap) {
		problems = append(problems, fmt.Sprintf("%d bytes of log used of %d", h.logUsed, logCap))
	}
	text := make([]byte, min(h.textUsed, h.textCap))
	if err := readAt(r, text, int64(headerSize)+logCap); err != nil {
		return out, 0, err
	}
	end := openEnd
	if h.closed != 0 {
		end = h.closedAt
	}
	if int64(h.calls) > capacity {
		problems = append(problems, fmt.Sprintf("%d calls begun of %d", h.calls, capacity))
	}
	calls := min(int(h.calls), int(capacity))
	if cap(out)-len(out) < calls {
		grown := make([]Record, len(out), len(out)+calls)
		copy(grown, out)
		out = grown
		populateRecords(out[len(out):cap(out)])
	}
	lr := logReader{out: out, first: len(out), text: text, capacity: int(capacity)}
	lr.waits = make([]Wait, 0, calls)
	chunk := make([]byte, min(logUsed, logChunk))
	for off, n, pos := int64(0), 0, 0; ; {
		if rest := logUsed - off - int64(n); rest > 0 && n-pos < maxCallBytes {
			// Keep what is left of the chunk and read on.
			copy(chunk, chunk[pos:n])
			off, n, pos = off+int64(pos), n-pos, 0
			m := int(min(int64(len(chunk)-n), rest))
			// A copy: the memory may change under a live rank.
			if err := readAt(r, chunk[n:n+m], int64(headerSize)+off+int64(n)); err != nil {
				return lr.finish(end), h.dropped, err
			}
			n += m
		}
		if pos == n {
			break
		}
		k, why := lr.entry(chunk[pos:n])
		if why != "" {
			problems = append(problems, fmt.Sprintf("log byte %d: %s", off+int64(pos), why))
			break
		}
		pos += k
	}
	if lr.bad > 0 {
		problems = append(problems, lr.firstBad)
	}
	if lr.bad > 1 {
		problems = append(problems, fmt.Sprintf("%d calls in all that make no record", lr.bad))
	}
	if len(problems) > 0 {
		err = fmt.Errorf("%w: %v", ErrMalformed, problems)
	}
	return lr.finish(end), h.dropped, err
}

// logReader makes records of a log's entries.
type logReader struct {
	out      []Record
	first    int    // out[first+i] is call i (until finish)
	waits    []Wait // what call i waits for
	bad      int    // calls left out
	firstBad string // why the first of them was
	prev     int64  // the last time read
	text     []byte // the text area
	capacity int
	why      string // a fault of the entry being read
}

// A call's record is open while its Flags hold Unfinished, and left out
// once they are badCall (no record's Flags are).
const badCall Flags = 1 << 7

// entry reads the entry at the start of e, which holds it whole unless the
// log ends within it, and returns its length, or why it does not decode:
// the log cannot be read past it. An entry that decodes but does not make
// a record (an unknown code, a text beyond those written) leaves its call
// out.
func (lr *logReader) entry(e []byte) (int, string) {
	d := logDecoder{b: e}
	lr.why = ""
	kind := d.next()
	if kind < entryBegin || kind > entryNote {
		return 0, fmt.Sprintf("unknown entry kind %d", kind)
	}
	calls := len(lr.out) - lr.first
	var call int
	if kind == entryBegin {
		if calls >= lr.capacity {
			return 0, fmt.Sprintf("more than the %d calls the buffer holds", lr.capacity)
		}
		call = calls
		lr.out = append(lr.out, Record{Flags: Unfinished})
		r := &lr.out[len(lr.out)-1]
		code := d.next()
		if code == 0 {
			if r.Op = lr.textAt(d.ref()); r.Op == "" && lr.why == "" {
				lr.why = "a call with neither code nor name"
			}
		} else if int(code) > len(knownOps) {
			lr.why = fmt.Sprintf("unknown call code %d", code)
		} else {
			r.Op = knownOps[code-1]
		}
		r.Comm = uint32(d.uvarint())
		r.Start = lr.time(&d)
		var w Wait
		if w.Word = d.next(); w.Word != 0 {
			w.Op, w.Peer, w.Tag = d.next(), int32(d.varint()), int32(d.varint())
			if int(w.Op) > len(knownOps) && lr.why == "" {
				lr.why = fmt.Sprintf("unknown call code %d", w.Op)
			}
		}
		lr.waits = append(lr.waits, w)
	} else {
		ref := d.uvarint()
		if d.bad || ref >= uint64(calls) {
			return 0, fmt.Sprintf("an entry of kind %d of the call %d back, of %d begun", kind, ref, calls)
		}
		call = calls - 1 - int(ref)
		r := &lr.out[lr.first+call]
		if !r.Flags.Has(Unfinished) && r.Flags != badCall {
			return 0, fmt.Sprintf("an entry of kind %d of call %d, which had ended", kind, call)
		}
		if r.Flags == badCall {
			r = &Record{} // read, and left out
		}
		lr.other(&d, kind, r)
	}
	if d.bad {
		return 0, fmt.Sprintf("an entry of kind %d cut short", kind)
	}
	if lr.why != "" {
		r := &lr.out[lr.first+call]
		if r.Flags != badCall {
			r.Flags = badCall
			if lr.bad++; lr.bad == 1 {
				lr.firstBad = fmt.Sprintf("call %d: %s", call, lr.why)
			}
		}
	}
	return d.i, ""
}

// other reads the rest of an entry of kind (a send, a note or an end)
// into r.
func (lr *logReader) other(d *logDecoder, kind byte, r *Record) {
	switch kind {
	case entrySend:
		dest, local, tag, size, seq := d.varint(), d.varint(), d.varint(), d.varint(), d.uvarint()
		r.Flags |= HasSend
		r.Dest, r.DestLocal, r.SendTag, r.SendSize, r.SendSeq = int(dest), int(local), int(tag), int(size), seq
	case entryNote:
		r.Note = lr.textAt(d.ref())
	case entryEnd:
		r.End = lr.time(d)
		f := Flags(d.next())
		if f&^(HasRecv|Failed) != 0 {
			lr.why = fmt.Sprintf("unknown flags %#x", byte(f))
		}
		if f.Has(HasRecv) {
			r.Source, r.SourceLocal, r.RecvTag, r.RecvSize, r.RecvPost = int(d.varint()), int(d.varint()), int(d.varint()), int(d.varint()), d.uvarint()
		}
		if f.Has(Failed) {
			if r.Err = lr.textAt(d.ref()); r.Err == "" {
				r.Err = "(its text was not kept: the rank's text area was full)"
			}
		}
		r.Flags = r.Flags&^Unfinished | f
	}
}

// time reads a time written as the difference from the last.
func (lr *logReader) time(d *logDecoder) int64 {
	lr.prev += d.varint()
	return lr.prev
}

// textAt is the text ref refers to; "" with lr.why set if it lies beyond
// the text written.
func (lr *logReader) textAt(ref textRef) string {
	if ref.len == 0 {
		return ""
	}
	if uint64(ref.off)+uint64(ref.len) > uint64(len(lr.text)) || ref.len > maxString {
		if lr.why == "" {
			lr.why = fmt.Sprintf("a text at %d of %d bytes beyond the %d written", ref.off, ref.len, len(lr.text))
		}
		return ""
	}
	return string(lr.text[ref.off : ref.off+ref.len])
}

// finish ends the calls still open at openEnd, saying what they waited
// for, leaves out the calls that make no record, and returns the records.
func (lr *logReader) finish(openEnd int64) []Record {
	for i := lr.first; i < len(lr.out); i++ {
		if r := &lr.out[i]; r.Flags.Has(Unfinished) && r.Flags != badCall {
			r.End = max(openEnd, r.Start)
			if r.Note == "" {
				r.Note = waitText(lr.waits[i-lr.first])
			}
		}
	}
	if lr.bad == 0 {
		return lr.out
	}
	out := lr.out[:lr.first]
	for i := lr.first; i < len(lr.out); i++ {
		if lr.out[i].Flags != badCall {
			out = append(out, lr.out[i])
		}
	}
	clear(lr.out[len(out):])
	return out
}

// logDecoder reads the varints of an entry; bad says one ran past its end.
type logDecoder struct {
	b   []byte
	i   int
	bad bool
}

func (d *logDecoder) next() byte {
	if d.i >= len(d.b) {
		d.bad = true
		return 0
	}
	d.i++
	return d.b[d.i-1]
}

func (d *logDecoder) uvarint() uint64 {
	var v uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if d.i >= len(d.b) {
			d.bad = true
			return 0
		}
		c := d.b[d.i]
		d.i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	d.bad = true
	return 0
}

func (d *logDecoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (d *logDecoder) ref() textRef {
	off, n := d.uvarint(), d.uvarint()
	if off > math.MaxUint32 || n > math.MaxUint32 {
		return textRef{off: math.MaxUint32, len: math.MaxUint32}
	}
	return textRef{off: uint32(off), len: uint32(n)}
}

// populateRecords makes present at once the whole pages of the fresh
// memory recs lies in, which ReadBufferAt is about to fill: one system
// call rather than a page fault per 4 KiB (a launcher is a young process,
// whose heap grows as it reads: for the bank example's 12,000 records,
// 450 faults).
func populateRecords(recs []Record) {
	if len(recs) == 0 {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(recs)))
	end := start + uintptr(len(recs))*unsafe.Sizeof(Record{})
	first := (start + pageSize - 1) &^ (pageSize - 1)
	last := end &^ (pageSize - 1)
	if last > first {
		populate(first, int(last-first))
	}
}

// readAt fills b from r at off.
func readAt(r io.ReaderAt, b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	if n, err := r.ReadAt(b, off); n < len(b) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("trace: reading %d bytes of a buffer at %d: %w", len(b), off, err)
	}
	return nil
}

// waitText says what an open call waits for, e.g. "Irecv source 1, tag 5"
// for a Wait on an Irecv, "source any, tag 0" for a Recv.
func waitText(w Wait) string {
	var word string
	switch w.Word &^ (WaitAnyPeer | WaitAnyTag) {
	case WaitSource:
		word = "source"
	case WaitDest:
		word = "dest"
	default:
		return ""
	}
	b := make([]byte, 0, 40)
	if w.Op != 0 && int(w.Op) <= len(knownOps) {
		b = append(append(b, knownOps[w.Op-1]...), ' ')
	}
	b = append(append(b, word...), ' ')
	if w.Word&WaitAnyPeer != 0 {
		b = append(b, "any"...)
	} else {
		b = fmt.Appendf(b, "%d", w.Peer)
	}
	b = append(b, ", tag "...)
	if w.Word&WaitAnyTag != 0 {
		b = append(b, "any"...)
	} else {
		b = fmt.Appendf(b, "%d", w.Tag)
	}
	return string(b)
}
