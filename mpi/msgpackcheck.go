package mpi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// maxMsgpackDepth bounds how deeply arrays and maps may nest in a received
// msgpack message. The decoder recurses once per level, so a few megabytes
// of nested one-element arrays would otherwise overflow the goroutine's
// stack, a fatal error that no recover catches.
const maxMsgpackDepth = 10000

// errMsgpackMalformed is what checkMsgpack wraps; decodeInto wraps it in turn
// with ErrTypeMismatch.
var errMsgpackMalformed = errors.New("malformed msgpack")

// checkMsgpack walks the first msgpack value in b, as the decoder will read
// it into a target of shape s (shapeOf), without decoding it, and fails
// unless every length it claims is there: a string, binary or extension of
// n bytes needs n bytes, and an array or map of n entries needs at least one
// byte per entry. The msgpack decoder trusts array lengths (it allocates a
// slice of the claimed length before reading an element), so a 5-byte
// message claiming 2^32 elements would otherwise allocate gigabytes; once
// checked, every element it allocates exists in b, so decoding allocates in
// proportion to len(b). It also refuses nesting deeper than maxMsgpackDepth
// and the never-used code 0xc1. Bytes after the first value are left alone,
// as msgpack.Unmarshal leaves them.
//
// Where the target expects a map, the decoder skips an extension's header
// and reads a map from the extension's data on; the walk follows it there.
// Where the shape is unknown (a custom decoder, a struct read from an array,
// a recursive type with maps inside), an extension whose data could be read
// so (it starts with a map or nil code) is refused, since the walk could not
// follow what the decoder reads.
func checkMsgpack(b []byte, s *msgpackShape) error {
	// Each level is a container being walked: how many values it still
	// holds and the shapes of its values (a map's alternate key, value).
	type level struct {
		due       uint64
		key, val  *msgpackShape
		isMap     bool
		nextIsVal bool
		fields    map[string]*msgpackShape // a struct's fields by name
	}
	var stack [64]level
	levels := append(stack[:0], level{due: 1, val: s})
	pos := 0
	for len(levels) > 0 {
		top := &levels[len(levels)-1]
		if top.due == 0 {
			levels = levels[:len(levels)-1]
			continue
		}
		top.due--
		shape := top.val
		isKey := top.isMap && !top.nextIsVal
		if isKey {
			shape = top.key
		}
		top.nextIsVal = top.isMap && !top.nextIsVal
		c, dataEnd, headerEnd, entries, err := msgpackToken(b, pos)
		if err != nil {
			return err
		}
		if isKey && top.fields != nil {
			// A struct read from a map: the value's shape is its field's.
			top.val = unknownShape
			if isMsgpackStr(c) {
				if f, ok := top.fields[string(b[headerEnd:dataEnd])]; ok {
					top.val = f
				}
			}
		}
		if isMsgpackExt(c) && (shape.kind == shapeMap || shape.kind == shapeUnknown) {
			mapCode := headerEnd < len(b) && isMsgpackMapOrNil(b[headerEnd])
			if shape.kind == shapeUnknown && mapCode {
				return fmt.Errorf("%w: an extension at byte %d that the decoder may read as a map", errMsgpackMalformed, pos)
			}
			if shape.kind == shapeMap {
				// The decoder skips the header and reads a map (or nil)
				// from the data on.
				if !mapCode {
					return fmt.Errorf("%w: an extension at byte %d where a map is due", errMsgpackMalformed, pos)
				}
				c, dataEnd, _, entries, err = msgpackToken(b, headerEnd)
				if err != nil {
					return err
				}
			}
		}
		pos = dataEnd
		if entries == 0 {
			continue
		}
		if entries > uint64(len(b)-pos) {
			return fmt.Errorf("%w: %d entries claimed at byte %d, %d bytes left", errMsgpackMalformed, entries, pos, len(b)-pos)
		}
		if len(levels) > maxMsgpackDepth {
			return fmt.Errorf("%w: nested deeper than %d", errMsgpackMalformed, maxMsgpackDepth)
		}
		if isMsgpackMapOrNil(c) {
			l := level{due: entries, key: shape.mapKey(), val: shape.mapVal(), isMap: true}
			if shape.kind == shapeStruct {
				l.fields = shape.fields
			}
			levels = append(levels, l)
		} else {
			levels = append(levels, level{due: entries, val: shape.arrayElem()})
		}
	}
	return nil
}

// msgpackToken reads the token at b[pos:]: its code, where its data ends
// (the next token starts), where its header ends (after the code, length
// and extension type), and for an array or map the values it holds (twice
// the pairs of a map).
func msgpackToken(b []byte, pos int) (c byte, dataEnd, headerEnd int, entries uint64, err error) {
	if pos >= len(b) {
		return 0, 0, 0, 0, fmt.Errorf("%w: truncated at byte %d", errMsgpackMalformed, pos)
	}
	c = b[pos]
	next := pos + 1
	var data uint64 // bytes after the header
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		// fixint, nil, false, true: the code is the value
	case c <= 0x8f:
		entries = 2 * uint64(c&0x0f) // fixmap
	case c <= 0x9f:
		entries = uint64(c & 0x0f) // fixarray
	case c <= 0xbf:
		data = uint64(c & 0x1f) // fixstr
	case c == 0xc4, c == 0xd9: // bin8, str8
		data, next, err = msgpackLen(b, next, 1)
	case c == 0xc5, c == 0xda: // bin16, str16
		data, next, err = msgpackLen(b, next, 2)
	case c == 0xc6, c == 0xdb: // bin32, str32
		data, next, err = msgpackLen(b, next, 4)
	case c == 0xc7, c == 0xc8, c == 0xc9: // ext8, ext16, ext32: length, type, data
		data, next, err = msgpackLen(b, next, 1<<(c-0xc7))
		next++
	case c == 0xca: // float32
		data = 4
	case c == 0xcb: // float64
		data = 8
	case c >= 0xcc && c <= 0xcf: // uint8..uint64
		data = 1 << (c - 0xcc)
	case c >= 0xd0 && c <= 0xd3: // int8..int64
		data = 1 << (c - 0xd0)
	case c >= 0xd4 && c <= 0xd8: // fixext1..fixext16: type, data
		data = 1 << (c - 0xd4)
		next++
	case c == 0xdc: // array16
		entries, next, err = msgpackLen(b, next, 2)
	case c == 0xdd: // array32
		entries, next, err = msgpackLen(b, next, 4)
	case c == 0xde: // map16
		entries, next, err = msgpackLen(b, next, 2)
		entries *= 2
	case c == 0xdf: // map32
		entries, next, err = msgpackLen(b, next, 4)
		entries *= 2
	default: // 0xc1
		return 0, 0, 0, 0, fmt.Errorf("%w: code %#x at byte %d", errMsgpackMalformed, c, pos)
	}
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if next > len(b) || data > uint64(len(b)-next) {
		return 0, 0, 0, 0, fmt.Errorf("%w: %d bytes claimed at byte %d, %d left", errMsgpackMalformed, data, pos, len(b)-min(next, len(b)))
	}
	return c, next + int(data), next, entries, nil
}

// isMsgpackExt reports whether c opens an extension.
func isMsgpackExt(c byte) bool { return c >= 0xc7 && c <= 0xc9 || c >= 0xd4 && c <= 0xd8 }

// isMsgpackStr reports whether c opens a string.
func isMsgpackStr(c byte) bool { return c >= 0xa0 && c <= 0xbf || c >= 0xd9 && c <= 0xdb }

// isMsgpackMapOrNil reports whether c opens a map, or is nil.
func isMsgpackMapOrNil(c byte) bool {
	return c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf || c == 0xc0
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

// msgpackShape is what checkMsgpack needs to know of a target type: where
// the decoder expects maps, since only there does it read an extension
// otherwise than whole.
type msgpackShape struct {
	kind     shapeKind
	key, val *msgpackShape            // a map's keys and values; an array's elements (val)
	fields   map[string]*msgpackShape // a struct's fields, by the name msgpack gives them
}

type shapeKind uint8

const (
	shapeFree    shapeKind = iota // no map inside: every extension is read whole
	shapeMap                      // a map; key and val say what is inside
	shapeArray                    // a slice or array of val
	shapeStruct                   // a struct read from a map of its fields
	shapeUnknown                  // maps inside where checkMsgpack cannot tell
)

var (
	freeShape    = &msgpackShape{kind: shapeFree}
	unknownShape = &msgpackShape{kind: shapeUnknown}
)

// mapKey, mapVal and arrayElem are the shapes inside a map or an array
// read at shape s. A container the target does not expect there is
// refused by the decoder; until it is, its insides are unknown.
func (s *msgpackShape) mapKey() *msgpackShape {
	switch s.kind {
	case shapeFree, shapeStruct:
		return freeShape
	case shapeMap:
		return s.key
	}
	return unknownShape
}

func (s *msgpackShape) mapVal() *msgpackShape {
	switch s.kind {
	case shapeFree:
		return freeShape
	case shapeMap:
		return s.val
	}
	return unknownShape
}

func (s *msgpackShape) arrayElem() *msgpackShape {
	switch s.kind {
	case shapeFree:
		return freeShape
	case shapeArray:
		return s.val
	}
	return unknownShape
}

// shapes caches shapeOf by type.
var shapes sync.Map // reflect.Type -> *msgpackShape

var (
	timeType               = reflect.TypeFor[time.Time]()
	customDecoderType      = reflect.TypeFor[msgpack.CustomDecoder]()
	msgpackUnmarshalerType = reflect.TypeFor[msgpack.Unmarshaler]()
)

// shapeOf returns the shape of the values the decoder reads into a t.
func shapeOf(t reflect.Type) *msgpackShape {
	if s, ok := shapes.Load(t); ok {
		return s.(*msgpackShape)
	}
	s := buildShape(t, map[reflect.Type]bool{})
	shapes.Store(t, s)
	return s
}

func buildShape(t reflect.Type, building map[reflect.Type]bool) *msgpackShape {
	if !containsMap(t, map[reflect.Type]bool{}) {
		return freeShape
	}
	if building[t] || customDecoding(t) {
		return unknownShape
	}
	building[t] = true
	defer delete(building, t)
	switch t.Kind() {
	case reflect.Pointer:
		return buildShape(t.Elem(), building)
	case reflect.Map:
		return &msgpackShape{kind: shapeMap, key: buildShape(t.Key(), building), val: buildShape(t.Elem(), building)}
	case reflect.Slice, reflect.Array:
		return &msgpackShape{kind: shapeArray, val: buildShape(t.Elem(), building)}
	case reflect.Struct:
		fields := make(map[string]*msgpackShape)
		if !structFields(t, fields, building) {
			return unknownShape
		}
		return &msgpackShape{kind: shapeStruct, fields: fields}
	}
	return unknownShape
}

// structFields adds the shapes of t's fields to fields, by the names the
// msgpack decoder matches them by: the msgpack tag's name, else the Go name;
// an embedded struct's fields also by their own names, as the decoder
// inlines them. It reports false for what it does not follow (a struct
// read from an array, a name given twice), which then has unknown shape.
func structFields(t reflect.Type, fields map[string]*msgpackShape, building map[reflect.Type]bool) bool {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("msgpack")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "as_array") {
			return false
		}
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		if name == "" {
			name = f.Name
		}
		shape := buildShape(f.Type, building)
		if old, dup := fields[name]; dup && old != shape {
			return false
		}
		fields[name] = shape
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && ft.Kind() == reflect.Struct && !customDecoding(ft) && !structFields(ft, fields, building) {
			return false
		}
	}
	return true
}

// containsMap reports whether decoding into a t may read a map where the
// decoder expects one, i.e. t has a map inside, or a custom decoder that
// may; an interface decodes whatever comes, never expecting a map.
func containsMap(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	if t == timeType {
		return false
	}
	if customDecoding(t) {
		return true
	}
	switch t.Kind() {
	case reflect.Map:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return containsMap(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if containsMap(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}

// customDecoding reports whether t decodes itself (msgpack.CustomDecoder
// or msgpack.Unmarshaler), which checkMsgpack cannot follow.
func customDecoding(t reflect.Type) bool {
	if t == timeType {
		return false
	}
	p := reflect.PointerTo(t)
	return t.Implements(customDecoderType) || p.Implements(customDecoderType) ||
		t.Implements(msgpackUnmarshalerType) || p.Implements(msgpackUnmarshalerType)
}
