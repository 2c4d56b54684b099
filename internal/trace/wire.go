package trace

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The records a rank hands to gorun travel in chunks of a compact binary
// form. A chunk starts with the byte Format; then each record: its call as
// one byte (an index into knownOps plus one, or 0 and the name), a byte of
// Flags (the four defined ones) and of which texts follow, the
// communicator, the start as a difference from the previous record's
// start in the chunk, the duration, then the texts present, the send part
// if HasSend and the receive part if HasRecv. Integers are varints,
// strings a length and bytes. A record takes about 15 bytes, a third of
// the plain form, so that handing over costs less on both sides.

// Format is the first byte of a chunk of records in this form. Its high
// bit set, it cannot begin a chunk of the older form (which began with a
// name's length, under 128).
const Format byte = 0xF2

// ErrMalformed reports records that do not decode.
var ErrMalformed = errors.New("trace: malformed records")

// maxString bounds a decoded string: a record's texts are short (errors
// are cut at a few hundred bytes by the rank).
const maxString = 4096

// knownOps are the calls the mpi package records, in the order of their
// codes (code i+1 is knownOps[i]).
var knownOps = []string{"Send", "Ssend", "Isend", "Recv", "Irecv", "Sendrecv", "Wait", "Test", "WaitAll", "WaitAny",
	"Probe", "Iprobe", "Bcast", "BcastInto", "Scatter", "Gather", "Allgather", "Alltoall", "Reduce", "ReduceSlice",
	"Allreduce", "AllreduceSlice", "AllreduceSliceInto", "Scan", "Barrier"}

var opCodes = func() map[string]byte {
	m := map[string]byte{}
	for i, op := range knownOps {
		m[op] = byte(i + 1)
	}
	return m
}()

// Which texts a record carries, in the byte after its Flags' bits.
const (
	hasErr   = 1 << 4
	hasNote  = 1 << 5
	flagBits = byte(HasSend | HasRecv | Failed | Unfinished)
)

// Encoder writes a chunk of records in the wire form.
type Encoder struct {
	b    []byte
	prev int64 // the last record's start
}

// Add appends r to the chunk.
func (e *Encoder) Add(r *Record) {
	if len(e.b) == 0 {
		e.b, e.prev = append(e.b, Format), 0
	}
	b := e.b
	if code := opCodes[r.Op]; code != 0 {
		b = append(b, code)
	} else {
		b = append(b, 0)
		b = appendStr(b, r.Op)
	}
	f := byte(r.Flags) & flagBits
	if r.Err != "" {
		f |= hasErr
	}
	if r.Note != "" {
		f |= hasNote
	}
	b = append(b, f)
	b = binary.AppendUvarint(b, uint64(r.Comm))
	b = binary.AppendVarint(b, r.Start-e.prev)
	b = binary.AppendVarint(b, r.End-r.Start)
	e.prev = r.Start
	if r.Err != "" {
		b = appendStr(b, r.Err)
	}
	if r.Note != "" {
		b = appendStr(b, r.Note)
	}
	if r.Flags.Has(HasSend) {
		b = binary.AppendVarint(b, int64(r.Dest))
		b = binary.AppendVarint(b, int64(r.DestLocal))
		b = binary.AppendVarint(b, int64(r.SendTag))
		b = binary.AppendVarint(b, int64(r.SendSize))
		b = binary.AppendUvarint(b, r.SendSeq)
	}
	if r.Flags.Has(HasRecv) {
		b = binary.AppendVarint(b, int64(r.Source))
		b = binary.AppendVarint(b, int64(r.SourceLocal))
		b = binary.AppendVarint(b, int64(r.RecvTag))
		b = binary.AppendVarint(b, int64(r.RecvSize))
		b = binary.AppendUvarint(b, r.RecvPost)
	}
	e.b = b
}

// Len is the chunk's size so far in bytes.
func (e *Encoder) Len() int { return len(e.b) }

// Bytes is the chunk; it stays valid until Reset.
func (e *Encoder) Bytes() []byte { return e.b }

// Reset starts a new chunk, reusing the memory.
func (e *Encoder) Reset() { e.b = e.b[:0] }

// EncodeRecords returns recs as one chunk.
func EncodeRecords(recs []Record) []byte {
	var e Encoder
	for i := range recs {
		e.Add(&recs[i])
	}
	return e.Bytes()
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeRecords decodes a chunk the Encoder wrote, appending its records
// to out; an empty chunk holds none. Anything else fails with an error
// wrapping ErrMalformed that says where. Only what a record's Flags say it
// holds travels (a record without HasSend comes back with a zero send
// part).
func DecodeRecords(out []Record, b []byte) ([]Record, error) {
	if len(b) == 0 {
		return out, nil
	}
	if b[0] != Format {
		return out, fmt.Errorf("%w: a chunk that starts with byte %#x, not %#x: the program was built with another version of package mpi than this gorun", ErrMalformed, b[0], Format)
	}
	d := decoder{b: b[1:], off: 1}
	prev := int64(0)
	for len(d.b) > 0 && d.err == nil {
		var r Record
		code := d.byte()
		switch {
		case code == 0:
			r.Op = d.str()
		case int(code) <= len(knownOps):
			r.Op = knownOps[code-1]
		default:
			d.fail("unknown call code %d", code)
		}
		f := d.byte()
		if f&^(flagBits|hasErr|hasNote) != 0 {
			d.fail("unknown flags %#x", f)
		}
		r.Flags = Flags(f & flagBits)
		comm := d.uvarint()
		if comm > 1<<32-1 && d.err == nil {
			d.fail("communicator %d out of range", comm)
		}
		r.Comm = uint32(comm)
		r.Start = prev + d.varint()
		r.End = r.Start + d.varint()
		prev = r.Start
		if f&hasErr != 0 {
			if r.Err = d.str(); r.Err == "" {
				d.fail("an empty error text")
			}
		}
		if f&hasNote != 0 {
			if r.Note = d.str(); r.Note == "" {
				d.fail("an empty note")
			}
		}
		if r.Flags.Has(HasSend) {
			r.Dest, r.DestLocal, r.SendTag, r.SendSize = d.int(), d.int(), d.int(), d.int()
			r.SendSeq = d.uvarint()
		}
		if r.Flags.Has(HasRecv) {
			r.Source, r.SourceLocal, r.RecvTag, r.RecvSize = d.int(), d.int(), d.int(), d.int()
			r.RecvPost = d.uvarint()
		}
		if d.err == nil {
			out = append(out, r)
		}
	}
	return out, d.err
}

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", ErrMalformed, d.off, fmt.Sprintf(format, args...))
		d.b = nil
	}
}

func (d *decoder) advance(n int) {
	d.b, d.off = d.b[n:], d.off+n
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("record cut short")
		return 0
	}
	v := d.b[0]
	d.advance(1)
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad or cut varint")
		return 0
	}
	d.advance(n)
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad or cut varint")
		return 0
	}
	d.advance(n)
	return v
}

// int is a varint that fits an int32 (ranks, tags) or a size.
func (d *decoder) int() int {
	v := d.varint()
	if int64(int(v)) != v {
		d.fail("%d does not fit an int", v)
		return 0
	}
	return int(v)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > maxString || n > uint64(len(d.b)) {
		d.fail("a string of %d bytes with %d left (at most %d)", n, len(d.b), maxString)
		return ""
	}
	s := string(d.b[:n])
	d.advance(int(n))
	return s
}
