package mpi

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// TestValueCodecForRawSlices: every slice of fixed-size numbers, named or
// not, whether valueCodecFor knows it without reflect or not, gets the raw
// codec with its element's size, and its values come back as sent from
// aligned and misaligned payloads; other types get the general codec.
func TestValueCodecForRawSlices(t *testing.T) {
	type vec []float64
	type small []int8
	check := func(name string, want int, roundTrip func() error, codec any) {
		t.Run(name, func(t *testing.T) {
			v := reflect.ValueOf(codec)
			if v.Type().Name() == "" || v.Kind() != reflect.Struct || v.NumField() != 1 {
				t.Fatalf("codec %T, not rawValueCodec", codec)
			}
			if got := int(v.Field(0).Uint()); got != want {
				t.Errorf("element size %d, want %d", got, want)
			}
			if err := roundTrip(); err != nil {
				t.Error(err)
			}
		})
	}
	check("[]float64", 8, rawRoundTrip([]float64{1.5, -2, 3}), valueCodecFor[[]float64]())
	check("[]int", 8, rawRoundTrip([]int{1, -2, 3}), valueCodecFor[[]int]())
	check("[]uint64", 8, rawRoundTrip([]uint64{1, 2, 1 << 63}), valueCodecFor[[]uint64]())
	check("[]float32", 4, rawRoundTrip([]float32{1.5, -2}), valueCodecFor[[]float32]())
	check("[]int32", 4, rawRoundTrip([]int32{-7, 9}), valueCodecFor[[]int32]())
	check("[]byte", 1, rawRoundTrip([]byte{1, 2, 255}), valueCodecFor[[]byte]())
	check("[]int16", 2, rawRoundTrip([]int16{-300, 300}), valueCodecFor[[]int16]())
	check("[]complex128", 16, rawRoundTrip([]complex128{1 + 2i}), valueCodecFor[[]complex128]())
	check("[]complex64", 8, rawRoundTrip([]complex64{1 - 2i, 3}), valueCodecFor[[]complex64]())
	check("vec", 8, rawRoundTrip(vec{4, 5}), valueCodecFor[vec]())
	check("small", 1, rawRoundTrip(small{-1, 1}), valueCodecFor[small]())
	if _, raw := valueCodecFor[[]string]().(rawValueCodec[[]string]); raw {
		t.Error("[]string got the raw codec")
	}
	if _, raw := valueCodecFor[float64]().(rawValueCodec[float64]); raw {
		t.Error("float64 got the raw codec")
	}
}

// rawRoundTrip encodes v with valueCodecFor and decodes it from a copy of
// the payload at every offset of an 8-byte word (aligned and not).
func rawRoundTrip[S ~[]E, E comparable](v S) func() error {
	return func() error {
		codec := valueCodecFor[S]()
		payload, err := codec.Encode(v)
		if err != nil {
			return err
		}
		for off := range 8 {
			buf := make([]byte, off+len(payload))
			copy(buf[off:], payload)
			got, err := codec.Decode(buf[off:])
			if err != nil {
				return fmt.Errorf("offset %d: %w", off, err)
			}
			if !slices.Equal(got, v) {
				return fmt.Errorf("offset %d: got %v, want %v", off, got, v)
			}
		}
		if _, err := codec.Decode(payload[:len(payload)-1]); len(payload) > 1 && reflect.TypeFor[E]().Size() > 1 && err == nil {
			return fmt.Errorf("a payload of %d bytes decoded", len(payload)-1)
		}
		return nil
	}
}
