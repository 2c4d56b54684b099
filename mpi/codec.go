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

// msgSliceCodec encodes slices for collectives with msgpack; sliceCodec
// gives slices of fixed-size numbers rawSliceCodec instead.
type msgSliceCodec[E any] struct{}

// rawSliceCodec encodes slices of fixed-size numbers for collectives: they
// travel as their raw bytes with no descriptor and no copy (every rank of a
// collective call uses the same element type). Like msgSliceCodec it holds
// nothing, so that making one allocates nothing.
type rawSliceCodec[E any] struct{}

// sliceCodec returns the codec collectives use for []E.
func sliceCodec[E any]() collectives.Codec[[]E] {
	var zero []E
	switch any(zero).(type) {
	case []float64, []byte:
		// The commonest first, without rawBytes' reflection (every
		// collective call asks: 50 of a small BcastInto's 2,100
		// instructions).
		return rawSliceCodec[E]{}
	}
	if _, _, _, raw := rawBytes(zero); raw {
		return rawSliceCodec[E]{}
	}
	return msgSliceCodec[E]{}
}

// Raw reports whether payloads are the slices' own memory (collectives.RawCodec).
func (msgSliceCodec[E]) Raw() bool { return false }

func (msgSliceCodec[E]) Encode(v []E) ([]byte, error) {
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w %T: %w", ErrEncode, v, err)
	}
	return b, nil
}

func (msgSliceCodec[E]) Decode(payload []byte) ([]E, error) {
	var v []E
	if err := checkMsgpack(payload, shapeOf(reflect.TypeFor[[]E]())); err != nil {
		return nil, fmt.Errorf("%w: cannot decode into %T: %w", ErrTypeMismatch, v, err)
	}
	if err := msgpack.Unmarshal(payload, &v); err != nil {
		return nil, fmt.Errorf("%w: cannot decode into %T: %w", ErrTypeMismatch, v, err)
	}
	return v, nil
}

// Raw reports whether payloads are the slices' own memory (collectives.RawCodec).
func (rawSliceCodec[E]) Raw() bool { return true }

func (rawSliceCodec[E]) Encode(v []E) ([]byte, error) { return sliceBytes(v), nil }

func (rawSliceCodec[E]) Decode(payload []byte) ([]E, error) {
	var e E
	size := int(unsafe.Sizeof(e))
	if len(payload)%size != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte elements", ErrTypeMismatch, len(payload), size)
	}
	n := len(payload) / size
	if n == 0 {
		return []E{}, nil
	}
	if hostLittleEndian && uintptr(unsafe.Pointer(&payload[0]))%unsafe.Alignof(e) == 0 {
		return unsafe.Slice((*E)(unsafe.Pointer(&payload[0])), n), nil
	}
	out := make([]E, n)
	src := payload
	if !hostLittleEndian {
		src = swapped(payload, size)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), len(src)), src)
	return out, nil
}

// rawValueCodec encodes a value whose type is a slice of fixed-size numbers
// (possibly a named one, e.g. type Vec []float64) as its raw bytes, with no
// descriptor and no copy on a little-endian host, and decodes in place
// when the bytes are aligned. Bcast uses it, so that a large numeric
// vector is broadcast without being re-encoded at every hop. It holds the
// element's size, one byte, which Go turns into an interface without
// allocating (so that making one, encoding and decoding allocate nothing:
// a Bcast in a loop allocates only the value each rank but the root gets)
// and which spares each call's encoding and decoding a look at T's type
// (reflect.TypeFor in generic code costs a lookup: tens of nanoseconds a
// small Bcast, issue 17's profile).
type rawValueCodec[T any] struct{ elemSize uint8 }

// valueCodecFor returns rawValueCodec for numeric slice types and the
// general codec for everything else.
func valueCodecFor[T any]() collectives.Codec[T] {
	if hostLittleEndian {
		// The slices programs broadcast most, known without reflect
		// (whose look at T cost 24 ns a call; this, 4).
		switch any(*new(T)).(type) {
		case []float64, []int64, []uint64, []int, []uint:
			if unsafe.Sizeof(int(0)) == 8 {
				return rawValueCodec[T]{elemSize: 8}
			}
		case []float32, []int32, []uint32:
			return rawValueCodec[T]{elemSize: 4}
		case []byte, []int8:
			return rawValueCodec[T]{elemSize: 1}
		}
	}
	if t := reflect.TypeFor[T](); rawSliceType(t) && hostLittleEndian {
		return rawValueCodec[T]{elemSize: uint8(t.Elem().Size())}
	}
	return valueCodec[T]()
}

// rawSliceType reports whether t is a slice whose elements rawBytes sends
// as raw bytes.
func rawSliceType(t reflect.Type) bool {
	if t.Kind() != reflect.Slice {
		return false
	}
	kind := t.Elem().Kind()
	_, numeric := rawKindSize(kind)
	return numeric && !((kind == reflect.Int || kind == reflect.Uint) && unsafe.Sizeof(int(0)) != 8)
}

// bytesHeader views the slice v (T is a slice type) as a slice header
// whose length and capacity count elements, not bytes.
func bytesHeader[T any](v *T) *[]byte { return (*[]byte)(unsafe.Pointer(v)) }

func (c rawValueCodec[T]) Encode(v T) ([]byte, error) {
	h := *bytesHeader(&v)
	if len(h) == 0 {
		return []byte{}, nil
	}
	return unsafe.Slice(unsafe.SliceData(h), len(h)*int(c.elemSize)), nil
}

func (c rawValueCodec[T]) Decode(payload []byte) (T, error) {
	var v T
	size := int(c.elemSize)
	if len(payload)%size != 0 {
		return v, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte elements", ErrTypeMismatch, len(payload), size)
	}
	n := len(payload) / size
	switch {
	case n == 0:
		*bytesHeader(&v) = []byte{} // empty, not nil, as the value sent
	case uintptr(unsafe.Pointer(&payload[0]))%uintptr(min(size, 8)) == 0:
		// Aligned for the element (numbers align to their size, at
		// most 8; complex64 to 4, which this asks more of).
		*bytesHeader(&v) = unsafe.Slice(&payload[0], n)
	default:
		s := reflect.MakeSlice(reflect.TypeFor[T](), n, n)
		copy(unsafe.Slice((*byte)(s.UnsafePointer()), len(payload)), payload)
		return s.Interface().(T), nil
	}
	return v, nil
}
