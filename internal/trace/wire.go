package trace

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The records a rank hands to gorun travel in a compact binary form (a
// tenth of the time JSON took): per record, its fields in the order of
// Record's declaration, integers as varints, strings as a length and
// bytes.

// ErrMalformed reports records that do not decode.
var ErrMalformed = errors.New("trace: malformed records")

// maxString bounds a decoded string: a record's texts are short (errors
// are cut at a few hundred bytes by the rank).
const maxString = 4096

// AppendRecord appends r's binary form to b.
func AppendRecord(b []byte, r Record) []byte {
	b = appendStr(b, r.Op)
	b = append(b, byte(r.Flags))
	b = binary.AppendUvarint(b, uint64(r.Comm))
	b = binary.AppendVarint(b, r.Start)
	b = binary.AppendVarint(b, r.End)
	b = appendStr(b, r.Err)
	b = appendStr(b, r.Note)
	for _, v := range []int{r.Dest, r.DestLocal, r.SendTag, r.SendSize} {
		b = binary.AppendVarint(b, int64(v))
	}
	b = binary.AppendUvarint(b, r.SendSeq)
	for _, v := range []int{r.Source, r.SourceLocal, r.RecvTag, r.RecvSize} {
		b = binary.AppendVarint(b, int64(v))
	}
	return binary.AppendUvarint(b, r.RecvPost)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeRecords decodes the records AppendRecord wrote one after another
// into b, appending them to out. Anything else fails with an error
// wrapping ErrMalformed that says where.
func DecodeRecords(out []Record, b []byte) ([]Record, error) {
	d := decoder{b: b}
	for len(d.b) > 0 && d.err == nil {
		var r Record
		r.Op = d.str()
		r.Flags = Flags(d.byte())
		comm := d.uvarint()
		if comm > 1<<32-1 && d.err == nil {
			d.fail("communicator %d out of range", comm)
		}
		r.Comm = uint32(comm)
		r.Start, r.End = d.varint(), d.varint()
		r.Err, r.Note = d.str(), d.str()
		r.Dest, r.DestLocal, r.SendTag, r.SendSize = d.int(), d.int(), d.int(), d.int()
		r.SendSeq = d.uvarint()
		r.Source, r.SourceLocal, r.RecvTag, r.RecvSize = d.int(), d.int(), d.int(), d.int()
		r.RecvPost = d.uvarint()
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
