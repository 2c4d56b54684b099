package mpi

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// Wire format of a user message. A message is a descriptor followed by a
// body. Eager messages carry both in one frame; rendezvous messages carry the
// descriptor in the RTS frame and the body alone in the data frame, so a
// large numeric slice is sent straight from the caller's memory.
//
//	raw numeric slice: [fmtRaw, reflect.Kind, flags, 0,0,0,0,0] then the
//	                   elements as little-endian bytes (8-byte descriptor, so
//	                   the body stays aligned for reuse without a copy)
//	anything else:     [fmtMsgpack, len(name), name...] then msgpack bytes,
//	                   where name is the sender's Go type, for error messages
const (
	fmtMsgpack = 1
	fmtRaw     = 2

	rawDescLen = 8
	rawNilFlag = 1
)

var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// encodeValue returns the descriptor and body of v. The body of a numeric
// slice aliases v's memory: it must be sent before v changes.
func encodeValue(v any) (desc, body []byte, err error) {
	if b, kind, isNil, ok := rawBytes(v); ok {
		return rawDesc(kind, isNil), b, nil
	}
	body, err = msgpack.Marshal(detached(v))
	if err != nil {
		return nil, nil, fmt.Errorf("%w %s: %w", ErrEncode, typeName(v), err)
	}
	name := typeName(v)
	if len(name) > 255 {
		name = name[:255]
	}
	desc = make([]byte, 2+len(name))
	desc[0], desc[1] = fmtMsgpack, byte(len(name))
	copy(desc[2:], name)
	return desc, body, nil
}

// rawDescs holds the descriptor of every raw kind, nil flag unset and set,
// so that sending a numeric slice allocates no descriptor. It is filled
// once and never written: the descriptors it hands out are read-only.
var rawDescs = func() (t [reflect.UnsafePointer + 1][2][rawDescLen]byte) {
	for kind := range t {
		for isNil := range t[kind] {
			t[kind][isNil] = [rawDescLen]byte{fmtRaw, byte(kind), byte(isNil * rawNilFlag)}
		}
	}
	return t
}()

// rawDesc returns the (shared, read-only) descriptor of a raw slice of kind.
func rawDesc(kind reflect.Kind, isNil bool) []byte {
	i := 0
	if isNil {
		i = 1
	}
	return rawDescs[kind][i][:]
}

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}

// rawKindSize returns the size of an element of kind when slices of it are
// sent as raw bytes (fixed-size numbers). A switch, not a map: it runs in
// every small Bcast (a map lookup was 4% of the call's profile).
func rawKindSize(kind reflect.Kind) (size int, ok bool) {
	switch kind {
	case reflect.Int8, reflect.Uint8:
		return 1, true
	case reflect.Int16, reflect.Uint16:
		return 2, true
	case reflect.Int32, reflect.Uint32, reflect.Float32:
		return 4, true
	case reflect.Int64, reflect.Uint64, reflect.Float64, reflect.Complex64, reflect.Int, reflect.Uint:
		return 8, true
	case reflect.Complex128:
		return 16, true
	}
	return 0, false
}

// rawBytes views a slice of fixed-size numbers as its bytes.
func rawBytes(v any) (b []byte, kind reflect.Kind, isNil, ok bool) {
	switch s := v.(type) {
	case []byte:
		return s, reflect.Uint8, s == nil, true
	case []float64:
		return sliceBytes(s), reflect.Float64, s == nil, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return nil, 0, false, false
	}
	kind = rv.Type().Elem().Kind()
	size, numeric := rawKindSize(kind)
	if !numeric || (kind == reflect.Int || kind == reflect.Uint) && unsafe.Sizeof(int(0)) != 8 {
		return nil, 0, false, false
	}
	n := rv.Len() * size
	if n == 0 {
		return nil, kind, rv.IsNil(), true
	}
	b = unsafe.Slice((*byte)(boxedSliceData(v)), n)
	if !hostLittleEndian {
		b = swapped(b, size)
	}
	return b, kind, false, true
}

func sliceBytes[E any](s []E) []byte {
	if len(s) == 0 {
		return nil
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(s[0])))
	if !hostLittleEndian {
		b = swapped(b, int(unsafe.Sizeof(s[0])))
	}
	return b
}

// swapped returns a copy of b with every size-byte word reversed; only
// big-endian hosts need it.
func swapped(b []byte, size int) []byte {
	out := make([]byte, len(b))
	for i := 0; i+size <= len(b); i += size {
		for j := 0; j < size; j++ {
			out[i+j] = b[i+size-1-j]
		}
	}
	return out
}

// splitMessage separates the descriptor of an eager payload from its body.
func splitMessage(payload []byte) (desc, body []byte, err error) {
	if len(payload) == 0 {
		return nil, nil, fmt.Errorf("%w: empty message", ErrTypeMismatch)
	}
	switch payload[0] {
	case fmtRaw:
		if len(payload) < rawDescLen {
			return nil, nil, fmt.Errorf("%w: truncated descriptor", ErrTypeMismatch)
		}
		return payload[:rawDescLen], payload[rawDescLen:], nil
	case fmtMsgpack:
		if len(payload) < 2 || len(payload) < 2+int(payload[1]) {
			return nil, nil, fmt.Errorf("%w: truncated descriptor", ErrTypeMismatch)
		}
		n := 2 + int(payload[1])
		return payload[:n], payload[n:], nil
	}
	return nil, nil, fmt.Errorf("%w: unknown message format %d", ErrTypeMismatch, payload[0])
}

// describe names the sender's type from a descriptor.
func describe(desc []byte) string {
	switch {
	case len(desc) >= rawDescLen && desc[0] == fmtRaw:
		return "[]" + reflect.Kind(desc[1]).String()
	case len(desc) >= 2 && desc[0] == fmtMsgpack && len(desc) >= 2+int(desc[1]):
		return string(desc[2 : 2+int(desc[1])])
	}
	return "unknown"
}

// decodeInto stores the message (desc, body) in *ptr. The body of a raw
// slice is reused without a copy when its alignment allows. desc and body
// come from another process: whatever they hold, decodeInto returns an error
// rather than panic, and allocates in proportion to len(body) (checkMsgpack).
func decodeInto(desc, body []byte, ptr any) error {
	return decodeWith(desc, body, ptr, nil, false)
}

// decodeWith is decodeInto, decoding msgpack bodies through mc when it is
// not nil (no allocation of its own). When borrowed, body's memory is
// reused once decodeWith returns: a raw slice is copied out of it, into the
// target's own memory when the target is a slice with room enough.
func decodeWith(desc, body []byte, ptr any, mc *msgCodec, borrowed bool) error {
	if len(desc) >= rawDescLen && desc[0] == fmtRaw {
		switch p := ptr.(type) {
		case *[]byte:
			if p != nil && reflect.Kind(desc[1]) == reflect.Uint8 {
				*p = rawSlice(*p, body, desc[2]&rawNilFlag != 0, borrowed)
				return nil
			}
		case *[]float64:
			if p != nil && reflect.Kind(desc[1]) == reflect.Float64 && len(body)%8 == 0 && hostLittleEndian {
				*p = rawSlice(*p, body, desc[2]&rawNilFlag != 0, borrowed)
				return nil
			}
		}
	}
	rp := reflect.ValueOf(ptr)
	if rp.Kind() != reflect.Pointer || rp.IsNil() {
		return fmt.Errorf("%w: got %s", ErrNotPointer, typeName(ptr))
	}
	target := rp.Elem()
	if len(desc) == 0 {
		return fmt.Errorf("%w: message without descriptor", ErrTypeMismatch)
	}
	switch desc[0] {
	case fmtRaw:
		if len(desc) < rawDescLen {
			return fmt.Errorf("%w: truncated descriptor", ErrTypeMismatch)
		}
		return decodeRaw(desc, body, target, ptr, borrowed)
	case fmtMsgpack:
		if err := checkMsgpack(body, shapeOf(target.Type())); err != nil {
			return fmt.Errorf("%w: cannot decode %s into %s: %w", ErrTypeMismatch, describe(desc), typeName(ptr), err)
		}
		unmarshal := msgpack.Unmarshal
		if mc != nil {
			unmarshal = mc.unmarshal
		}
		if err := unmarshal(body, ptr); err != nil {
			return fmt.Errorf("%w: cannot decode %s into %s: %w", ErrTypeMismatch, describe(desc), typeName(ptr), err)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown message format %d", ErrTypeMismatch, desc[0])
}

// decodeRaw stores a raw slice in target; borrowed is decodeWith's.
func decodeRaw(desc, body []byte, target reflect.Value, ptr any, borrowed bool) error {
	kind := reflect.Kind(desc[1])
	size, ok := rawKindSize(kind)
	if !ok || len(body)%size != 0 {
		return fmt.Errorf("%w: malformed %s message of %d bytes", ErrTypeMismatch, describe(desc), len(body))
	}
	isNil := desc[2]&rawNilFlag != 0
	var sliceType reflect.Type
	switch {
	case target.Kind() == reflect.Slice && sameRawKind(target.Type().Elem().Kind(), kind):
		sliceType = target.Type()
	case target.Kind() == reflect.Interface && target.NumMethod() == 0:
		sliceType = reflect.SliceOf(kindType(kind))
	default:
		return fmt.Errorf("%w: cannot decode %s into %s", ErrTypeMismatch, describe(desc), typeName(ptr))
	}
	if sliceType.Elem().Size() != uintptr(size) {
		// int and uint on a 32-bit host: 8 bytes each on the wire, which
		// the copies below would write past a slice of 4-byte elements.
		return fmt.Errorf("%w: cannot decode %s of %d-byte elements into %s", ErrTypeMismatch, describe(desc), size, typeName(ptr))
	}
	n := len(body) / size
	var s reflect.Value
	switch {
	case isNil && n == 0:
		s = reflect.Zero(sliceType)
	case n == 0:
		s = reflect.MakeSlice(sliceType, 0, 0)
	case target.Kind() == reflect.Slice && target.Cap() >= n && target.UnsafePointer() == unsafe.Pointer(&body[0]):
		s = target.Slice(0, n) // the body was read straight into the target
	case !borrowed && hostLittleEndian && uintptr(unsafe.Pointer(&body[0]))%uintptr(sliceType.Elem().Align()) == 0:
		s = reflect.SliceAt(sliceType.Elem(), unsafe.Pointer(&body[0]), n).Convert(sliceType)
	default:
		if !hostLittleEndian {
			body = swapped(body, size)
		}
		if target.Kind() == reflect.Slice && target.Cap() >= n {
			s = target.Slice(0, n)
		} else {
			s = reflect.MakeSlice(sliceType, n, n)
		}
		copy(unsafe.Slice((*byte)(s.UnsafePointer()), len(body)), body)
	}
	target.Set(s)
	return nil
}

// rawSlice is decodeRaw without reflection for a target of type []E whose
// elements are the body's kind, on a little-endian host: the result
// decodeRaw would store in target.
func rawSlice[E any](target []E, body []byte, isNil, borrowed bool) []E {
	var e E
	size := int(unsafe.Sizeof(e))
	n := len(body) / size
	switch {
	case isNil && n == 0:
		return nil
	case n == 0:
		return []E{}
	case cap(target) >= n && unsafe.Pointer(unsafe.SliceData(target)) == unsafe.Pointer(&body[0]):
		return target[:n] // the body was read straight into the target
	case !borrowed && uintptr(unsafe.Pointer(&body[0]))%unsafe.Alignof(e) == 0:
		return unsafe.Slice((*E)(unsafe.Pointer(&body[0])), n)
	}
	s := target[:0]
	if cap(s) >= n {
		s = s[:n]
	} else {
		s = make([]E, n)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(body)), body)
	return s
}

// sameRawKind: int and int64 (uint and uint64) share a wire form.
func sameRawKind(a, b reflect.Kind) bool {
	norm := func(k reflect.Kind) reflect.Kind {
		switch k {
		case reflect.Int:
			return reflect.Int64
		case reflect.Uint:
			return reflect.Uint64
		}
		return k
	}
	return norm(a) == norm(b)
}

func kindType(k reflect.Kind) reflect.Type {
	switch k {
	case reflect.Int8:
		return reflect.TypeFor[int8]()
	case reflect.Uint8:
		return reflect.TypeFor[uint8]()
	case reflect.Int16:
		return reflect.TypeFor[int16]()
	case reflect.Uint16:
		return reflect.TypeFor[uint16]()
	case reflect.Int32:
		return reflect.TypeFor[int32]()
	case reflect.Uint32:
		return reflect.TypeFor[uint32]()
	case reflect.Float32:
		return reflect.TypeFor[float32]()
	case reflect.Int64:
		return reflect.TypeFor[int64]()
	case reflect.Uint64:
		return reflect.TypeFor[uint64]()
	case reflect.Float64:
		return reflect.TypeFor[float64]()
	case reflect.Complex64:
		return reflect.TypeFor[complex64]()
	case reflect.Complex128:
		return reflect.TypeFor[complex128]()
	case reflect.Int:
		return reflect.TypeFor[int]()
	case reflect.Uint:
		return reflect.TypeFor[uint]()
	}
	return reflect.TypeFor[byte]()
}

// joinMessage returns desc followed by body as one payload.
func joinMessage(desc, body []byte) []byte {
	if len(desc) == 0 {
		return body
	}
	return bytes.Join([][]byte{desc, body}, nil)
}
