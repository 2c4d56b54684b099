package mpi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// maxMsgpackDepth bounds how deeply arrays and maps may nest in a received
// msgpack message. The decoder recurses once per level, so a few megabytes
// of nested one-element arrays would otherwise overflow the goroutine's
// stack, a fatal error that no recover catches.
const maxMsgpackDepth = 10000

// errMsgpackMalformed is what checkMsgpack wraps; decodeInto wraps it in turn
// with ErrTypeMismatch.
var errMsgpackMalformed = errors.New("malformed msgpack")

// checkMsgpack walks the first msgpack value in b without decoding it and
// fails unless every length it claims is there: a string, binary or
// extension of n bytes needs n bytes, and an array or map of n entries needs
// at least one byte per entry. The msgpack decoder trusts array lengths (it
// allocates a slice of the claimed length before reading an element), so a
// 5-byte message claiming 2^32 elements would otherwise allocate gigabytes;
// once checked, every element it allocates exists in b, so decoding
// allocates in proportion to len(b). It also refuses nesting deeper than
// maxMsgpackDepth and the never-used code 0xc1. Bytes after the first value
// are left alone, as msgpack.Unmarshal leaves them.
func checkMsgpack(b []byte) error {
	// due[i] counts the values still to read at nesting level i.
	var stack [64]uint64
	due := append(stack[:0], 1)
	pos := 0
	for len(due) > 0 {
		if due[len(due)-1] == 0 {
			due = due[:len(due)-1]
			continue
		}
		due[len(due)-1]--
		if pos >= len(b) {
			return fmt.Errorf("%w: truncated at byte %d", errMsgpackMalformed, pos)
		}
		c := b[pos]
		pos++
		var skip, entries uint64 // bytes to skip; values nested in this one
		var err error
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
			// fixint, nil, false, true: the code is the value
		case c <= 0x8f:
			entries = 2 * uint64(c&0x0f) // fixmap
		case c <= 0x9f:
			entries = uint64(c & 0x0f) // fixarray
		case c <= 0xbf:
			skip = uint64(c & 0x1f) // fixstr
		case c == 0xc4, c == 0xd9: // bin8, str8
			skip, pos, err = msgpackLen(b, pos, 1)
		case c == 0xc5, c == 0xda: // bin16, str16
			skip, pos, err = msgpackLen(b, pos, 2)
		case c == 0xc6, c == 0xdb: // bin32, str32
			skip, pos, err = msgpackLen(b, pos, 4)
		case c == 0xc7: // ext8: length, type, data
			skip, pos, err = msgpackLen(b, pos, 1)
			skip++
		case c == 0xc8: // ext16
			skip, pos, err = msgpackLen(b, pos, 2)
			skip++
		case c == 0xc9: // ext32
			skip, pos, err = msgpackLen(b, pos, 4)
			skip++
		case c == 0xca: // float32
			skip = 4
		case c == 0xcb: // float64
			skip = 8
		case c >= 0xcc && c <= 0xcf: // uint8..uint64
			skip = 1 << (c - 0xcc)
		case c >= 0xd0 && c <= 0xd3: // int8..int64
			skip = 1 << (c - 0xd0)
		case c >= 0xd4 && c <= 0xd8: // fixext1..fixext16: type, data
			skip = 1 + 1<<(c-0xd4)
		case c == 0xdc: // array16
			entries, pos, err = msgpackLen(b, pos, 2)
		case c == 0xdd: // array32
			entries, pos, err = msgpackLen(b, pos, 4)
		case c == 0xde: // map16
			entries, pos, err = msgpackLen(b, pos, 2)
			entries *= 2
		case c == 0xdf: // map32
			entries, pos, err = msgpackLen(b, pos, 4)
			entries *= 2
		default: // 0xc1
			return fmt.Errorf("%w: code %#x at byte %d", errMsgpackMalformed, c, pos-1)
		}
		if err != nil {
			return err
		}
		left := uint64(len(b) - pos)
		if skip > left {
			return fmt.Errorf("%w: %d bytes claimed at byte %d, %d left", errMsgpackMalformed, skip, pos, left)
		}
		pos += int(skip)
		if entries == 0 {
			continue
		}
		if entries > uint64(len(b)-pos) {
			return fmt.Errorf("%w: %d entries claimed at byte %d, %d bytes left", errMsgpackMalformed, entries, pos, len(b)-pos)
		}
		if len(due) > maxMsgpackDepth {
			return fmt.Errorf("%w: nested deeper than %d", errMsgpackMalformed, maxMsgpackDepth)
		}
		due = append(due, entries)
	}
	return nil
}

// msgpackLen reads a big-endian length of size bytes at b[pos:].
func msgpackLen(b []byte, pos, size int) (n uint64, next int, err error) {
	if len(b)-pos < size {
		return 0, pos, fmt.Errorf("%w: truncated length at byte %d", errMsgpackMalformed, pos)
	}
	switch size {
	case 1:
		n = uint64(b[pos])
	case 2:
		n = uint64(binary.BigEndian.Uint16(b[pos:]))
	default:
		n = uint64(binary.BigEndian.Uint32(b[pos:]))
	}
	return n, pos + size, nil
}
