package trace

import (
	"io"
	"math"
	"unicode/utf8"
)

// A small JSON encoder for the trace's events: a trace holds up to
// hundreds of thousands of them, and encoding/json's reflection made
// writing one cost more than recording the call did.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendString(b []byte, s string) []byte { return appendJSONString(b, s, false) }

// appendHTMLString is appendString for a page's script, escaping as
// encoding/json does by default: <, > and & (and U+2028, U+2029) as \u
// sequences, so that no "</script>" can end the script early.
func appendHTMLString(b []byte, s string) []byte { return appendJSONString(b, s, true) }

func appendJSONString(b []byte, s string, html bool) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s, html)
	return append(b, '"')
}

// appendHTMLText appends s inside a JSON string of a page's script.
func appendHTMLText(b []byte, s string) []byte { return appendEscaped(b, s, true) }

// plain[html][c] says that byte c stands for itself inside a JSON string
// (of a file, or of a page's script when html).
var plain = func() (t [2][256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[0][c] = c != '"' && c != '\\'
		t[1][c] = t[0][c] && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendEscaped appends s as the inside of a JSON string. Most texts are
// plain ASCII: runs of bytes that stand for themselves are copied at once.
func appendEscaped(b []byte, s string, html bool) []byte {
	table := &plain[0]
	if html {
		table = &plain[1]
	}
	for i := 0; i < len(s); {
		run := i
		for run < len(s) && table[s[run]] {
			run++
		}
		if run > i {
			b = append(b, s[i:run]...)
			if i = run; i == len(s) {
				break
			}
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case html && (c == '<' || c == '>' || c == '&'):
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			case c == '\n' && html:
				b = append(b, '\\', 'n')
			case c == '\r' && html:
				b = append(b, '\\', 'r')
			case c == '\t' && html:
				b = append(b, '\\', 't')
			case c == '\b' && html:
				b = append(b, '\\', 'b')
			case c == '\f' && html:
				b = append(b, '\\', 'f')
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case html && (r == '\u2028' || r == '\u2029'):
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// appendMicros appends ns as microseconds with three decimals. A trace
// has two or three such numbers an event: their digits are written where
// they go, two at a time from the end, rather than through strconv (or a
// small array copied over: the copy's call cost as much as the digits).
func appendMicros(b []byte, ns int64) []byte {
	if ns < 0 {
		if ns == math.MinInt64 { // -ns overflows
			return append(b, "-9223372036854775.808"...)
		}
		b = append(b, '-')
		ns = -ns
	}
	u := uint64(ns)
	whole := u / 1000
	n := digits(whole)
	b, at := extend(b, n+4)
	frac := u % 1000
	b[at+n+3] = byte('0' + frac%10)
	b[at+n+1], b[at+n+2] = twoDigits[2*(frac/10)], twoDigits[2*(frac/10)+1]
	b[at+n] = '.'
	putDigits(b[at:at+n], whole)
	return b
}

// appendInt appends v in decimal, as strconv.AppendInt(b, v, 10) does,
// its digits written where they go (see appendMicros).
func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		return appendUint(b, -uint64(v)) // MinInt64 too: -v wraps to its magnitude
	}
	return appendUint(b, uint64(v))
}

// appendUint appends u in decimal, as strconv.AppendUint(b, u, 10) does.
func appendUint(b []byte, u uint64) []byte {
	n := digits(u)
	b, at := extend(b, n)
	putDigits(b[at:at+n], u)
	return b
}

// extend lengthens b by n bytes, to be written, and says where they start.
func extend(b []byte, n int) ([]byte, int) {
	at := len(b)
	if cap(b)-at < n {
		b = append(b, make([]byte, n)...)
	}
	return b[:at+n], at
}

// digits is the number of decimal digits of u (1 for 0).
func digits(u uint64) int {
	n := 1
	for u >= 100 {
		u /= 100
		n += 2
	}
	if u >= 10 {
		n++
	}
	return n
}

// putDigits writes u's decimal digits into d, which is exactly as long.
func putDigits(d []byte, u uint64) {
	i := len(d)
	for u >= 100 {
		k := u % 100
		u /= 100
		d[i-1], d[i-2] = twoDigits[2*k+1], twoDigits[2*k]
		i -= 2
	}
	if u >= 10 {
		d[i-1], d[i-2] = twoDigits[2*u+1], twoDigits[2*u]
	} else {
		d[i-1] = byte('0' + u)
	}
}

// twoDigits holds 00 to 99, two bytes each.
const twoDigits = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// object builds JSON objects, field by field, into b, which WriteJSON
// passes on to w (err: the first error of w).
type object struct {
	w   io.Writer
	b   []byte
	err error
}

// newObject returns an object that writes to w.
func newObject(w io.Writer) object {
	return object{w: w, b: make([]byte, 0, writeChunk+4<<10)}
}

// close writes what o still holds and returns the first error of its
// writer.
func (o *object) close() error {
	o.flush()
	return o.err
}

func (o *object) key(k string) {
	if o.b[len(o.b)-1] != '{' {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *object) str(k, v string) { o.key(k); o.b = appendString(o.b, v) }
func (o *object) num(k string, v int64) {
	o.key(k)
	o.b = appendInt(o.b, v)
}
func (o *object) micros(k string, ns int64) { o.key(k); o.b = appendMicros(o.b, ns) }
func (o *object) raw(k, v string)           { o.key(k); o.b = append(o.b, v...) }
