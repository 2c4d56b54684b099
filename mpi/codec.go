package mpi

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/gorun-mpi/gorun/collectives"
	"github.com/vmihailenco/msgpack/v5"
)

// msgValueCodec encodes single values for collectives as user messages are
// encoded (raw bytes for numeric slices, msgpack otherwise).
type msgValueCodec[T any] struct{}

func (msgValueCodec[T]) Encode(v T) ([]byte, error) {
	desc, body, err := encodeValue(v)
	if err != nil {
		return nil, err
	}
	return joinMessage(desc, body), nil
}

func (msgValueCodec[T]) Decode(payload []byte) (T, error) {
	var v T
	desc, body, err := splitMessage(payload)
	if err != nil {
		return v, err
	}
	err = decodeInto(desc, body, &v)
	return v, err
}

// valueCodec returns the codec collectives use for values of T.
func valueCodec[T any]() collectives.Codec[T] { return msgValueCodec[T]{} }

// msgSliceCodec encodes slices for collectives. Slices of fixed-size numbers
// travel as their raw bytes with no descriptor and no copy (every rank of a
// collective call uses the same element type); others use msgpack.
type msgSliceCodec[E any] struct {
	raw  bool
	size int
}

// sliceCodec returns the codec collectives use for []E.
func sliceCodec[E any]() collectives.Codec[[]E] {
	var zero []E
	_, _, _, raw := rawBytes(zero)
	var e E
	return msgSliceCodec[E]{raw: raw, size: int(unsafe.Sizeof(e))}
}

// Raw reports whether payloads are the slices' own memory (collectives.RawCodec).
func (s msgSliceCodec[E]) Raw() bool { return s.raw }

func (s msgSliceCodec[E]) Encode(v []E) ([]byte, error) {
	if s.raw {
		return sliceBytes(v), nil
	}
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w %T: %w", ErrEncode, v, err)
	}
	return b, nil
}

func (s msgSliceCodec[E]) Decode(payload []byte) ([]E, error) {
	if !s.raw {
		var v []E
		if err := checkMsgpack(payload, shapeOf(reflect.TypeFor[[]E]())); err != nil {
			return nil, fmt.Errorf("%w: cannot decode into %T: %w", ErrTypeMismatch, v, err)
		}
		if err := msgpack.Unmarshal(payload, &v); err != nil {
			return nil, fmt.Errorf("%w: cannot decode into %T: %w", ErrTypeMismatch, v, err)
		}
		return v, nil
	}
	if len(payload)%s.size != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte elements", ErrTypeMismatch, len(payload), s.size)
	}
	n := len(payload) / s.size
	if n == 0 {
		return []E{}, nil
	}
	var e E
	if hostLittleEndian && uintptr(unsafe.Pointer(&payload[0]))%unsafe.Alignof(e) == 0 {
		return unsafe.Slice((*E)(unsafe.Pointer(&payload[0])), n), nil
	}
	out := make([]E, n)
	src := payload
	if !hostLittleEndian {
		src = swapped(payload, s.size)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), len(src)), src)
	return out, nil
}

// rawValueCodec encodes a value whose type is a slice of fixed-size numbers
// (possibly a named one, e.g. type Vec []float64) as its raw bytes, with no
// descriptor and no copy on a little-endian host, and decodes in place
// when the bytes are aligned. Bcast uses it, so that a large numeric
// vector is broadcast without being re-encoded at every hop.
type rawValueCodec[T any] struct {
	typ  reflect.Type
	size int
}

// valueCodecFor returns rawValueCodec for numeric slice types and the
// general codec for everything else.
func valueCodecFor[T any]() collectives.Codec[T] {
	var zero T
	if _, _, _, raw := rawBytes(zero); raw && hostLittleEndian {
		t := reflect.TypeFor[T]()
		return rawValueCodec[T]{typ: t, size: int(t.Elem().Size())}
	}
	return valueCodec[T]()
}

func (c rawValueCodec[T]) Encode(v T) ([]byte, error) {
	b, _, _, _ := rawBytes(v)
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func (c rawValueCodec[T]) Decode(payload []byte) (T, error) {
	var v T
	if len(payload)%c.size != 0 {
		return v, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte elements", ErrTypeMismatch, len(payload), c.size)
	}
	n := len(payload) / c.size
	var s reflect.Value
	switch {
	case n == 0:
		s = reflect.MakeSlice(c.typ, 0, 0)
	case uintptr(unsafe.Pointer(&payload[0]))%uintptr(c.typ.Elem().Align()) == 0:
		s = reflect.SliceAt(c.typ.Elem(), unsafe.Pointer(&payload[0]), n).Convert(c.typ)
	default:
		s = reflect.MakeSlice(c.typ, n, n)
		copy(unsafe.Slice((*byte)(s.UnsafePointer()), len(payload)), payload)
	}
	return s.Interface().(T), nil
}
