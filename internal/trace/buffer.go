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
// an array of fixed-size Slots (one per call, taken in the order the calls
// begin and filled in as they end) and an area for texts. Under gorun it
// lies in a shared memory file that gorun made for the rank, so that gorun
// reads the records straight from the memory once the rank has exited,
// however it exited (Finalize, panic, os.Exit, SIGKILL): nothing is handed
// over, and the calls of a rank that died are there up to its death, the
// one it died in still open. Without that file the rank records into its
// own memory and hands the records over at Finalize (Encoder).
//
// The memory is written by the rank and read by gorun, which trusts
// nothing in it: ReadBuffer checks every count, offset and code.

// bufferMagic opens a formatted buffer ("gortrc" and the layout's version).
const bufferMagic uint64 = 0x0002_6372_7472_6f67

// header is the start of a buffer.
type header struct {
	magic    uint64
	slotSize uint32
	capacity uint32 // slots
	textCap  uint32 // bytes of the text area
	used     uint32 // slots taken
	textUsed uint32 // bytes of the text area taken
	closed   uint32 // 1: the rank stopped recording (Finalize) at closedAt
	dropped  uint64 // calls not recorded: the limit was reached
	closedAt int64
	_        [16]byte
}

const headerSize = int(unsafe.Sizeof(header{}))

// Slot is one call in a Buffer. Its fields are the Record's, in fixed-size
// form: the call as a code (Op, see OpCode; 0 with Name for a call of
// no code), texts as references into the buffer's text area (SetErr,
// SetNote), and for a call that has not returned what it waits for
// (Wait...), which the reader turns into the Record's Note.
// Ranks and tags take 32 bits (mpi.MaxTag is the largest int32): a slot
// of 120 bytes rather than 152, fewer pages for a rank to make present and
// for gorun to read.
type Slot struct {
	State    uint8 // slotEmpty, SlotBegun, SlotEnded
	Op       uint8
	Flags    Flags
	WaitOp   uint8 // for a Wait: the code of the call waited on, 0 if none
	WaitWord uint8 // WaitSource or WaitDest, 0 if it waits for nothing to say
	_        [3]byte
	Comm     uint32
	WaitPeer int32
	WaitTag  int32

	Dest, DestLocal, SendTag     int32
	Source, SourceLocal, RecvTag int32

	name, err, note textRef
	_               uint32 // the same layout where int64 aligns to 4 (386)

	Start, End int64
	SendSize   int64
	SendSeq    uint64
	RecvSize   int64
	RecvPost   uint64
}

// The states of a Slot.
const (
	slotEmpty = 0 // taken, not yet written: the rank died in between
	SlotBegun = 1 // the call began and has not returned
	SlotEnded = 2 // the call returned
)

// What an open call waits for (Slot.WaitWord), and bits for "any" peer or tag.
const (
	WaitSource  = 1
	WaitDest    = 2
	WaitAnyPeer = 1 << 6
	WaitAnyTag  = 1 << 7
)

type textRef struct{ off, len uint32 }

const slotSize = int(unsafe.Sizeof(Slot{}))

// BufferSize is the bytes a buffer of capacity slots takes: a text area of
// 32 bytes a slot on average (most calls have no text). Pages of a shared
// memory file are allocated when first written, so capacity may be generous.
func BufferSize(capacity int) int {
	return headerSize + capacity*slotSize + textArea(capacity)
}

func textArea(capacity int) int { return capacity*32 + 4096 }

// maxBufferSlots is the most slots whose buffer's size fits an int (on a
// 32-bit platform, about 11 million; the header's count, a uint32, bounds
// it on 64-bit ones).
const maxBufferSlots = (math.MaxInt - headerSize - 4096) / (slotSize + 32)

// Buffer is a rank's side of a buffer: it takes slots and stores texts.
// It is not safe for concurrent use (the rank's tracer holds a lock).
type Buffer struct {
	h     *header
	slots []Slot
	text  []byte
	// The slots before ready have their pages present (populate); the
	// next call makes the pages of step more bytes so, a step twice the
	// last up to maxPopulate: a rank that makes few calls takes few
	// pages, one that makes many takes them in few system calls.
	ready, step int
	noPopulate  bool // the kernel cannot: pages come as they are written
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
// and 8-byte aligned, as an empty buffer of capacity slots.
func NewBuffer(mem []byte, capacity int) (*Buffer, error) {
	if capacity < 1 || uint64(capacity) > 1<<31 || capacity > maxBufferSlots || len(mem) < BufferSize(capacity) {
		return nil, fmt.Errorf("trace: a buffer of %d slots needs %d bytes, not %d", capacity, BufferSize(capacity), len(mem))
	}
	if uintptr(unsafe.Pointer(&mem[0]))%8 != 0 {
		return nil, errors.New("trace: a buffer's memory must be 8-byte aligned")
	}
	clear(mem[:headerSize])
	h := (*header)(unsafe.Pointer(&mem[0]))
	b := &Buffer{
		h:     h,
		slots: unsafe.Slice((*Slot)(unsafe.Pointer(&mem[headerSize])), capacity),
		text:  mem[headerSize+capacity*slotSize : BufferSize(capacity)],
	}
	h.slotSize, h.capacity, h.textCap = uint32(slotSize), uint32(capacity), uint32(len(b.text))
	h.magic = bufferMagic
	return b, nil
}

// Take returns the next slot, cleared, and its index; nil when every slot
// is taken.
func (b *Buffer) Take() (*Slot, int) {
	i := int(b.h.used)
	if i >= len(b.slots) {
		return nil, -1
	}
	b.h.used++
	if i >= b.ready && !b.noPopulate {
		b.populateFrom(i)
	}
	s := &b.slots[i]
	*s = Slot{}
	return s, i
}

// populateFrom makes present the pages of the next step of slots from
// slot i on.
func (b *Buffer) populateFrom(i int) {
	b.step = min(max(2*b.step, firstPopulate), maxPopulate)
	first := uintptr(unsafe.Pointer(&b.slots[i]))
	lead := int(first % pageSize) // from the start of its page
	end := min(i*slotSize+b.step-lead, len(b.slots)*slotSize)
	n := end - i*slotSize + lead
	if !populate(first-uintptr(lead), (n+pageSize-1)/pageSize*pageSize) {
		b.noPopulate = true
		return
	}
	b.ready = end / slotSize
}

// Used is how many slots were taken.
func (b *Buffer) Used() int { return int(b.h.used) }

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

// SetName stores op as the name of s's call (for a call with no code).
func (b *Buffer) SetName(s *Slot, op string) { s.name = b.store(op) }

// SetErr stores s's error text.
func (b *Buffer) SetErr(s *Slot, text string) { s.err = b.store(text) }

// SetNote stores s's note.
func (b *Buffer) SetNote(s *Slot, text string) { s.note = b.store(text) }

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

// OpCode is the code of a call's name in a Slot, 0 for a name with none.
func OpCode(op string) uint8 {
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

// ErrNotFormatted reports a buffer that no rank formatted: the rank never
// began recording (it did not call mpi.Init, or recorded into its own
// memory instead).
var ErrNotFormatted = errors.New("trace: the rank did not record into its buffer")

// ErrHandedOver reports a buffer whose records went to gorun another way
// (Buffer.HandedOver): reading them from the memory would count them twice.
var ErrHandedOver = errors.New("trace: the rank handed its records over")

// ReadBuffer reads the records of a buffer written by a rank, appending
// them to out; dropped is the number of calls it did not record. A call
// still open was open when the rank stopped recording (Finalize) or, if it
// never did, when it died: its record is marked Unfinished, ends at that
// time (openEnd, on the rank's clock, for a rank that died), and its Note
// says what it waited for. The memory is checked, not trusted: slots that
// do not hold a record are left out and reported by an error wrapping
// ErrMalformed, after the records that do; a buffer never formatted fails
// with ErrNotFormatted, one whose records were handed over another way with
// ErrHandedOver.
func ReadBuffer(out []Record, mem []byte, openEnd int64) (_ []Record, dropped uint64, err error) {
	return ReadBufferAt(out, bytes.NewReader(mem), int64(len(mem)), openEnd)
}

// BufferClosed reports whether the buffer in r says the rank stopped
// recording (Buffer.Close, Buffer.HandedOver): its records are final, to
// be read at once.
func BufferClosed(r io.ReaderAt) bool {
	var h header
	if readAt(r, unsafe.Slice((*byte)(unsafe.Pointer(&h)), headerSize), 0) != nil {
		return false
	}
	return h.magic == bufferMagic && h.closed != 0
}

// FirstStart is the start of the first call recorded in the buffer in r,
// which a rank may still be writing: the earliest of its calls (a rank
// takes its slots in the order its calls begin, reading the clock as it
// takes them). False when it has recorded none yet.
func FirstStart(r io.ReaderAt) (int64, bool) {
	var h header
	if readAt(r, unsafe.Slice((*byte)(unsafe.Pointer(&h)), headerSize), 0) != nil ||
		h.magic != bufferMagic || h.slotSize != uint32(slotSize) || h.used == 0 || h.closed == closedHandedOver {
		return 0, false
	}
	var s Slot
	if readAt(r, unsafe.Slice((*byte)(unsafe.Pointer(&s)), slotSize), int64(headerSize)) != nil ||
		(s.State != SlotBegun && s.State != SlotEnded) {
		return 0, false
	}
	return s.Start, true
}

// slotsAtOnce is how many slots ReadBufferAt reads with one call.
const slotsAtOnce = 256

// ReadBufferAt is ReadBuffer for a buffer of size bytes read from r, the
// shared memory file it lies in, rather than mapped: gorun reads a rank's
// records once, and mapping the file cost it more (a page fault for every
// few pages read) than copying them out of it does.
func ReadBufferAt(out []Record, r io.ReaderAt, size, openEnd int64) (_ []Record, dropped uint64, err error) {
	if size < int64(headerSize) {
		return out, 0, fmt.Errorf("%w: a buffer of %d bytes, shorter than its header", ErrMalformed, size)
	}
	var h header
	if err := readAt(r, unsafe.Slice((*byte)(unsafe.Pointer(&h)), headerSize), 0); err != nil {
		return out, 0, err
	}
	switch {
	case h.magic == 0:
		return out, 0, ErrNotFormatted
	case h.magic != bufferMagic || h.slotSize != uint32(slotSize):
		return out, 0, fmt.Errorf("%w: a buffer of another layout (magic %#x, slots of %d bytes): the program was built with another version of package mpi than this gorun", ErrMalformed, h.magic, h.slotSize)
	case h.closed == closedHandedOver:
		return out, h.dropped, ErrHandedOver
	}
	capacity := int64(h.capacity)
	if capacity < 1 || int64(headerSize)+capacity*int64(slotSize)+int64(h.textCap) > size {
		return out, 0, fmt.Errorf("%w: a buffer of %d slots and %d bytes of text does not fit its %d bytes", ErrMalformed, h.capacity, h.textCap, size)
	}
	var problems []string
	used := int(h.used)
	if int64(used) > capacity {
		problems = append(problems, fmt.Sprintf("%d slots used of %d", used, capacity))
		used = int(capacity)
	}
	textStart := int64(headerSize) + capacity*int64(slotSize)
	text := make([]byte, min(h.textUsed, h.textCap))
	if err := readAt(r, text, textStart); err != nil {
		return out, 0, err
	}
	end := openEnd
	if h.closed != 0 {
		end = h.closedAt
	}
	if cap(out)-len(out) < used {
		grown := make([]Record, len(out), len(out)+used)
		copy(grown, out)
		out = grown
		populateRecords(out[len(out):cap(out)])
	}
	chunk := make([]Slot, min(used, slotsAtOnce))
	bad := 0
	for first := 0; first < used; first += len(chunk) {
		slots := chunk[:min(len(chunk), used-first)]
		// A copy: the memory may change under a live rank.
		if err := readAt(r, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(slots))), len(slots)*slotSize),
			int64(headerSize)+int64(first)*int64(slotSize)); err != nil {
			return out, h.dropped, err
		}
		for i := range slots {
			s := &slots[i]
			if s.State == slotEmpty {
				continue
			}
			out = out[:len(out)+1] // room for used records was made above
			if why := slotRecord(&out[len(out)-1], s, text, end); why != "" {
				out = out[:len(out)-1]
				if bad == 0 {
					problems = append(problems, fmt.Sprintf("slot %d: %s", first+i, why))
				}
				bad++
			}
		}
	}
	if bad > 1 {
		problems = append(problems, fmt.Sprintf("%d slots in all that hold no record", bad))
	}
	if len(problems) > 0 {
		err = fmt.Errorf("%w: %v", ErrMalformed, problems)
	}
	return out, h.dropped, err
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

// slotRecord writes into r the Record s holds (all of r: it may hold an
// older one), or says why s holds none. It fills r where the caller keeps
// it: a record is 150 bytes, and a trace holds many.
func slotRecord(r *Record, s *Slot, text []byte, openEnd int64) string {
	*r = Record{Comm: s.Comm, Start: s.Start, End: s.End}
	switch {
	case s.State != SlotBegun && s.State != SlotEnded:
		return fmt.Sprintf("state %d", s.State)
	case byte(s.Flags)&^flagBits != 0:
		return fmt.Sprintf("unknown flags %#x", s.Flags)
	case int(s.Op) > len(knownOps) || int(s.WaitOp) > len(knownOps):
		return fmt.Sprintf("unknown call code %d", max(s.Op, s.WaitOp))
	}
	var why string
	texts := func(ref textRef) string {
		if ref.len == 0 {
			return ""
		}
		if uint64(ref.off)+uint64(ref.len) > uint64(len(text)) || ref.len > maxString {
			why = fmt.Sprintf("a text at %d of %d bytes beyond the %d written", ref.off, ref.len, len(text))
			return ""
		}
		return string(text[ref.off : ref.off+ref.len])
	}
	if s.Op != 0 {
		r.Op = knownOps[s.Op-1]
	} else if r.Op = texts(s.name); r.Op == "" && why == "" {
		why = "a call with neither code nor name"
	}
	r.Err, r.Note = texts(s.err), texts(s.note)
	if why != "" {
		return why
	}
	r.Flags = s.Flags &^ Unfinished
	if r.Flags.Has(Failed) && r.Err == "" {
		r.Err = "(its text was not kept: the rank's text area was full)"
	}
	if r.Flags.Has(HasSend) {
		r.Dest, r.DestLocal, r.SendTag, r.SendSize, r.SendSeq = int(s.Dest), int(s.DestLocal), int(s.SendTag), int(s.SendSize), s.SendSeq
	}
	if r.Flags.Has(HasRecv) {
		r.Source, r.SourceLocal, r.RecvTag, r.RecvSize, r.RecvPost = int(s.Source), int(s.SourceLocal), int(s.RecvTag), int(s.RecvSize), s.RecvPost
	}
	if s.State == SlotBegun {
		// A call that had not returned took no message (the rank may
		// have died while it wrote one down).
		r.Flags = r.Flags&^HasRecv | Unfinished
		r.Source, r.SourceLocal, r.RecvTag, r.RecvSize, r.RecvPost = 0, 0, 0, 0, 0
		r.End = max(openEnd, r.Start)
		if r.Note == "" {
			r.Note = waitText(s)
		}
	}
	return ""
}

// waitText says what an open call waits for, e.g. "Irecv source 1, tag 5"
// for a Wait on an Irecv, "source any, tag 0" for a Recv.
func waitText(s *Slot) string {
	var word string
	switch s.WaitWord &^ (WaitAnyPeer | WaitAnyTag) {
	case WaitSource:
		word = "source"
	case WaitDest:
		word = "dest"
	default:
		return ""
	}
	b := make([]byte, 0, 40)
	if s.WaitOp != 0 {
		b = append(append(b, knownOps[s.WaitOp-1]...), ' ')
	}
	b = append(append(b, word...), ' ')
	if s.WaitWord&WaitAnyPeer != 0 {
		b = append(b, "any"...)
	} else {
		b = fmt.Appendf(b, "%d", s.WaitPeer)
	}
	b = append(b, ", tag "...)
	if s.WaitWord&WaitAnyTag != 0 {
		b = append(b, "any"...)
	} else {
		b = fmt.Appendf(b, "%d", s.WaitTag)
	}
	return string(b)
}
