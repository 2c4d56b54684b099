package comm

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Shared-memory rings between same-host peers.
//
// A connection's dialer (the only writer of that direction) creates a ring
// in a sealed memfd, passes it with the handshake (SCM_RIGHTS), and from
// then on writes frames up to the ring's record limit into it instead of
// the socket; bigger frames, and frames that find the ring full, still go
// by the socket. The socket carries wake-ups, the goodbye and EOF, which
// stays the only source of truth for a peer's end.
//
// Order between the two paths: every data frame of a ring connection gets
// an ordinal (0, 1, 2, ... mod 2^32), in the record header or the socket
// frame header. The reader delivers only the frame whose ordinal is next:
// a ring record with a later ordinal waits in the ring until the socket
// frame before it was delivered, and a socket frame's header makes the
// reader drain the ring up to it first (its records were published before
// the socket frame was written, so they are visible by then; a socket frame
// whose predecessors are not in the ring is a broken peer).
//
// Layout of a ring's memory (little-endian; the mapping is page aligned):
//
//	[0:8)       head: bytes published by the writer (only the writer stores it)
//	[64:72)     tail: bytes consumed by the reader (only the reader stores it)
//	[128:132)   sleeping: 1 when the reader wants a wake-up frame on the socket
//	            for the next record; the writer swaps it to 0 and sends one
//	[192:196)   spilled: 1 + the ordinal of the last data frame the writer
//	            sent by the socket (0: none), a hint that lets a polling
//	            reader skip the socket's system call when nothing is due there
//	[4096:)     the data area, a power of two of bytes
//
// head and tail grow without wrapping (uint64 byte counts); a position's
// offset in the data area is pos mod the area's size. A record starts at a
// multiple of ringAlign: a frame header (unix_frame.go's, with the ordinal
// at [12:16]), then the payload, padded to ringAlign; the payload may wrap
// around the area's end, the header never does.
//
// Why a shared head: a reader that polls the head and then reads the
// record pays two cache lines from the writer's core per small record.
// Publishing each record by a mark in its own first line instead (the
// reader polling the line the next record goes to; the writer zeroing the
// following mark first, since old payload bytes could read as one) was
// tried (issue 17) and made an 8-byte ping-pong's median slower (0.40 ->
// 0.43 us one way; 1 KiB 0.82 -> 0.88 us), most likely because the
// reader's polls take the line away from the writer between its stores
// to it, while the head is written once, after the record is whole.
//
// Wake-ups. The reader polls the ring whenever it polls (Poll, and its
// background reader whenever the socket is readable). While nobody polls,
// a record would sit unseen, so the reader sets sleeping before it stops
// looking, and the writer, after publishing a record, wakes it through the
// socket when it finds sleeping set. The classic argument (Dekker's):
// writer: store head, then load sleeping; reader: store sleeping, then load
// head. Go's atomics are sequentially consistent, so at least one of the
// two sees the other's store: either the writer sees sleeping and wakes the
// reader, or the reader, re-checking the ring after storing sleeping, sees
// the record. The reader clears sleeping only while a caller spins on Poll
// (Spinner), and stores it again (then re-checks) when the last spinner
// stops by SpinEnd, or, when it stopped by SpinLinger, once the linger
// timer finds nobody polling (unix_ring_linger.go); clearing it at any
// other time is never done, setting it spuriously only costs a wake-up
// frame.
//
// The peer at the other end may scribble on the shared memory: every
// position and length read from it is checked before use, each side keeps
// its own copy of the counter it owns, and payloads are copied out before
// they are delivered. The memfd is sealed against shrinking, so a peer
// cannot make our accesses fault.
//
// Pages. A ring's pages fault in as records first reach them, once in each
// process. Making them present when the ring is mapped (MADV_POPULATE_WRITE
// by the dialer while it waits for the handshake's answer, and by the
// acceptor) was tried in issue 17: it took the first lap's faults out of
// an 8-byte ping-pong's first loop after Init (22-23 minor faults per 1000
// round trips -> 13, the heap's), but that is about 130 faults of ~1.2 us
// per pair, a few nanoseconds per call of a 10000-call loop, below the
// runs' spread; and every connected pair, even one that exchanges a single
// message, would then hold its whole ring resident and pay ~100 us to
// clear it (at 64 ranks with every pair connected, 1 GiB and 0.4 s of CPU,
// with the 256 KiB rings of then).
const (
	ringHeadOff     = 0
	ringTailOff     = 64
	ringSleepingOff = 128
	ringSpilledOff  = 192
	ringCtrlLen     = 4096
	ringAlign       = 32

	// DefaultRingSize is the data area of each direction's ring unless
	// UnixConfig.RingSize says otherwise. Its records carry up to a
	// quarter of it, 128 KiB, which is package mpi's eager limit: a
	// message that size crosses memory in three copies through a ring
	// (into it, out of it into memory the receiver recycles, into the
	// receive's buffer; two when the receive was posted first and the
	// receiver splits the frame: SplitBufferProvider) faster than a
	// rendezvous moves it with one copy out of the sender's memory
	// (process_vm_readv, whose system call, clear-to-send and wake-ups
	// cost more on this size): one way, 64 KiB
	// 6.9 against 16.8 us, 96 KiB 10.1 against 20.6, 120 KiB 12.1 against
	// 24.2 (2-core AMD EPYC VM, three alternated runs of bench/ops
	// ping-pong, issue 17), while 128 KiB and more by the ring was slower
	// than the rendezvous. A ring is mapped populated (ringMapFlags): each
	// connected pair of ranks holds 1 MiB, both directions (at 64 ranks
	// on one host with every pair connected, 2 GiB).
	DefaultRingSize = 512 << 10
	minRingSize     = 4 << 10
	maxRingSize     = 64 << 20

	// oobSpace is the room for the control message that passes a ring's
	// descriptor (a few more are refused by the kernel's truncation).
	oobSpace = 64
)

// errRingBroken: the peer broke the ring's rules (a position or a length
// that cannot be).
var errRingBroken = errors.New("shared-memory ring broken by the peer")

// ringMem is a ring's mapping, seen from either side.
type ringMem struct {
	mem  []byte // the whole mapping
	data []byte // the data area, mem[ringCtrlLen:]
	mask uint64 // len(data)-1
	// maxLen is the largest payload a record may carry: a quarter of the
	// data area, so that a full ring still takes a few.
	maxLen uint64
}

// newRingMem checks a mapping's size and wraps it.
func newRingMem(mem []byte) (ringMem, error) {
	size := len(mem) - ringCtrlLen
	if size < minRingSize || size > maxRingSize || size&(size-1) != 0 {
		return ringMem{}, fmt.Errorf("ring of %d bytes: the data area must be a power of two in [%d, %d]: %w",
			len(mem), minRingSize, maxRingSize, ErrBadFrame)
	}
	return ringMem{mem: mem, data: mem[ringCtrlLen:], mask: uint64(size - 1), maxLen: uint64(size / 4)}, nil
}

func (m *ringMem) headPtr() *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&m.mem[ringHeadOff]))
}

func (m *ringMem) tailPtr() *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&m.mem[ringTailOff]))
}

func (m *ringMem) sleepingPtr() *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&m.mem[ringSleepingOff]))
}

func (m *ringMem) spilledPtr() *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&m.mem[ringSpilledOff]))
}

// ringRecordLen is the room a record with a payload of n bytes takes.
func ringRecordLen(n uint64) uint64 {
	return frameHeaderLen + (n+ringAlign-1)&^(ringAlign-1)
}

// copyIn writes b at position pos of the data area, wrapping, and returns
// the position after it.
func (m *ringMem) copyIn(pos uint64, b []byte) uint64 {
	if off := pos & m.mask; off+uint64(len(b)) <= uint64(len(m.data)) {
		copy(m.data[off:], b) // most records: no wrap, one copy
		return pos + uint64(len(b))
	}
	for len(b) > 0 {
		n := copy(m.data[pos&m.mask:], b)
		b = b[n:]
		pos += uint64(n)
	}
	return pos
}

// copyOut fills b from position pos of the data area, wrapping.
func (m *ringMem) copyOut(pos uint64, b []byte) {
	if off := pos & m.mask; off+uint64(len(b)) <= uint64(len(m.data)) {
		copy(b, m.data[off:])
		return
	}
	for len(b) > 0 {
		n := copy(b, m.data[pos&m.mask:])
		b = b[n:]
		pos += uint64(n)
	}
}

// ringWriter is the dialer's side of a ring. It is used under its
// outConn's lock.
type ringWriter struct {
	ringMem
	head uint64 // what we published; the shared copy is only ever stored
	// tail is the reader's tail as last loaded: the room it shows is
	// there for sure (the tail only grows), so the shared tail, a cache
	// line the reader writes at every record, is loaded only when that
	// room is not enough.
	tail uint64
}

// put writes one record if the ring has room for it now: sent is false
// when it has not (the frame then goes by the socket). An error means the
// reader broke the ring (a tail that cannot be); nothing was written.
func (w *ringWriter) put(h *Header, ord uint32, head, body []byte) (sent bool, err error) {
	size := uint64(len(head) + len(body))
	if size > w.maxLen {
		return false, nil
	}
	need := ringRecordLen(size)
	if uint64(len(w.data))-(w.head-w.tail) < need {
		tail := w.tailPtr().Load()
		used := w.head - tail
		if used > uint64(len(w.data)) || tail%ringAlign != 0 || tail-w.tail > w.head-w.tail {
			return false, fmt.Errorf("tail %d, head %d: %w", tail, w.head, errRingBroken)
		}
		w.tail = tail
		if uint64(len(w.data))-used < need {
			return false, nil
		}
	}
	off := w.head & w.mask
	rec := w.data[off : off+frameHeaderLen]
	encodeHeader(rec, h, int(size))
	putOrdinal(rec, ord)
	w.copyIn(w.copyIn(w.head+frameHeaderLen, head), body)
	w.head += need
	w.headPtr().Store(w.head) // publish
	return true, nil
}

// claimWake reports whether the reader asked to be woken, taking the
// request: the caller must then send it a wake-up frame.
func (w *ringWriter) claimWake() bool {
	s := w.sleepingPtr()
	return s.Load() == 1 && s.CompareAndSwap(1, 0)
}

// ringReader is the acceptor's side of a ring. It is used under its
// inConn's lock.
type ringReader struct {
	ringMem
	tail    uint64 // what we consumed; the shared copy is only ever stored
	maxSize uint64 // the largest payload accepted: min(maxLen, MaxFrame)
	// peek holds the first bytes of a payload read apart (takeSplit):
	// a field, not a local, which a call through an interface would
	// move to the heap on every frame.
	peek [SplitPeek]byte
}

// take reads into f the record at the tail when one is published and
// carries ordinal ord: its header (Source set to source) and its payload,
// read into memory from bp when bp is not nil and gives some (see
// BufferProvider), else a fresh slice. ok is false when no record for ord
// is there yet; f is then undefined. An error means the writer broke the
// ring. The frame is written in place rather than returned: see
// decodeFrameHeader.
func (r *ringReader) take(f *Frame, ord uint32, source int, bp BufferProvider) (ok bool, err error) {
	head := r.headPtr().Load()
	avail := head - r.tail
	if avail == 0 {
		return false, nil
	}
	if avail > uint64(len(r.data)) || avail%ringAlign != 0 {
		return false, fmt.Errorf("head %d, tail %d: %w", head, r.tail, errRingBroken)
	}
	// Decoded where it lies, not copied first (a call to memmove per
	// record): decodeFrameHeader reads each field once, so the writer
	// cannot change a value between its check and its use.
	off := r.tail & r.mask
	h := &f.Header
	length, rord, err := decodeFrameHeader(h, r.data[off:off+frameHeaderLen:off+frameHeaderLen], source, r.maxSize)
	if err != nil {
		return false, fmt.Errorf("record at %d: %w", r.tail, errors.Join(err, errRingBroken))
	}
	if h.Kind >= FirstReservedKind {
		return false, fmt.Errorf("record at %d of kind %#x, reserved: %w", r.tail, h.Kind, errRingBroken)
	}
	need := ringRecordLen(length)
	if need > avail {
		return false, fmt.Errorf("record at %d of %d bytes, %d published: %w", r.tail, need, avail, errRingBroken)
	}
	if rord != ord {
		return false, nil // the frame due comes by the socket
	}
	var payload []byte
	copied := false
	if bp != nil && length > 0 {
		// Field by field, not *h: a whole copy of the header just
		// written would stall (see decodeFrameHeader).
		hc := Header{Kind: h.Kind, Context: h.Context, Source: h.Source, Tag: h.Tag, Seq: h.Seq}
		if length >= SplitThreshold {
			if sp, ok := bp.(SplitBufferProvider); ok {
				payload, copied = r.takeSplit(sp, hc, length)
			}
		}
		if payload == nil {
			if b := bp.BufferFor(hc, int(length)); uint64(len(b)) == length {
				payload = b
			}
		}
	}
	if payload == nil {
		payload = make([]byte, length)
	}
	if !copied {
		r.copyOut(r.tail+frameHeaderLen, payload)
	}
	r.tail += need
	r.tailPtr().Store(r.tail) // the writer may reuse the room now
	f.Payload = payload
	return true, nil
}

// takeSplit reads the payload of length bytes of the record at the tail
// in two parts when sp gives memory for them (see SplitBufferProvider):
// the head from a private copy of the payload's first SplitPeek bytes, the
// rest straight out of the ring into the body's memory. It returns the
// head, which is the frame's payload then, and true; or nil and false
// when sp gave none, having copied nothing.
func (r *ringReader) takeSplit(sp SplitBufferProvider, h Header, length uint64) ([]byte, bool) {
	first := r.peek[:]
	r.copyOut(r.tail+frameHeaderLen, first)
	head, body := sp.SplitBuffers(h, int(length), first)
	n := uint64(len(head))
	if head == nil || body == nil || n > SplitPeek || n+uint64(len(body)) != length {
		return nil, false
	}
	copy(head, first[:n])
	r.copyOut(r.tail+frameHeaderLen+n, body)
	return head, true
}

// socketDue reports whether the writer said a data frame with an ordinal
// at or after next went by the socket (the hint in spilled).
func (r *ringReader) socketDue(next uint32) bool {
	s := r.spilledPtr().Load()
	return s != 0 && int32(s-1-next) >= 0
}

// unmap releases the writer's mapping; a nil ring has none.
func (w *ringWriter) unmap() {
	if w != nil && w.mem != nil {
		unmapRing(w.mem)
		w.mem, w.data = nil, nil
	}
}

// unmap releases the reader's mapping; a nil ring has none.
func (r *ringReader) unmap() {
	if r != nil && r.mem != nil {
		unmapRing(r.mem)
		r.mem, r.data = nil, nil
	}
}
