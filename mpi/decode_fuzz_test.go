package mpi

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fuzzPoint is a struct target for the decoding fuzzers.
type fuzzPoint struct {
	X, Y int
	Name string
	Tags []string
}

// decodeTargets make a fresh pointer of each type a receiver may decode into.
var decodeTargets = []func() any{
	func() any { return new(any) },
	func() any { return new(int) },
	func() any { return new(string) },
	func() any { return new([]byte) },
	func() any { return new([]int8) },
	func() any { return new([]uint16) },
	func() any { return new([]int32) },
	func() any { return new([]int) },
	func() any { return new([]float64) },
	func() any { return new([]complex128) },
	func() any { return new([]string) },
	func() any { return new([][]int) },
	func() any { return new([]any) },
	func() any { return new(map[string]int) },
	func() any { return new(map[int][]byte) },
	func() any { return new(fuzzPoint) },
	func() any { return new([]fuzzPoint) },
	func() any { return new([4]int) },
	func() any { return new(map[string]time.Time) },
	func() any { return new([]map[string][]int) },
	func() any {
		return new(struct {
			M map[string][]int
			T time.Time
			embedded
		})
	},
}

// seedValues are sent values whose encodings seed the decoding fuzzers.
func seedValues() []any {
	return []any{
		nil, 42, -7, 3.5, float32(1.5), uint64(1 << 40), int64(-1 << 40), "hello", true,
		time.Unix(1700000000, 5).UTC(), strings.Repeat("long string ", 30),
		[]byte("raw bytes"), []byte(nil), []int8{-1, 2}, []uint16{1, 2, 3},
		[]int32{7}, []int{1, 2, 3}, []float64{0.5, -1}, []float64{}, []complex128{1i},
		[]string{"a", "bc"}, [][]int{{1}, {2, 3}}, []any{1, "x", nil},
		map[string]int{"a": 1}, map[int][]byte{1: {2}},
		fuzzPoint{X: 1, Y: 2, Name: "p", Tags: []string{"t"}},
		[]fuzzPoint{{X: 1}}, [4]int{1, 2, 3, 4},
	}
}

// allocated returns the bytes this process has allocated so far.
func allocated() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// decodeAllocBound is the most that decoding a payload of n bytes may
// allocate: in proportion to n (each element of a slice or map costs at
// least one byte of the message), never what a length field claims.
func decodeAllocBound(n int) uint64 { return 1<<20 + 512*uint64(n) }

// FuzzDecodeMessage feeds a received eager payload, as the transport hands
// it over, to splitMessage and then decodeInto for every kind of target.
// Whatever the payload, each returns ErrTypeMismatch or succeeds: no panic,
// no fatal stack overflow, and no allocation beyond decodeAllocBound.
func FuzzDecodeMessage(f *testing.F) {
	for _, v := range seedValues() {
		desc, body, err := encodeValue(v)
		if err != nil {
			f.Fatalf("encodeValue(%#v): %v", v, err)
		}
		f.Add(joinMessage(desc, body))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		desc, body, err := splitMessage(payload)
		if err != nil {
			if !errors.Is(err, ErrTypeMismatch) {
				t.Fatalf("splitMessage: %v, not ErrTypeMismatch", err)
			}
			return
		}
		if len(desc)+len(body) != len(payload) {
			t.Fatalf("splitMessage: %d + %d bytes of %d", len(desc), len(body), len(payload))
		}
		for _, target := range decodeTargets {
			ptr := target()
			before := allocated()
			err := decodeInto(desc, body, ptr)
			if grew := allocated() - before; grew > decodeAllocBound(len(payload)) {
				t.Fatalf("decodeInto(%T) of %d bytes allocated %d bytes", ptr, len(payload), grew)
			}
			if err != nil && !errors.Is(err, ErrTypeMismatch) {
				t.Fatalf("decodeInto(%T): %v, not ErrTypeMismatch", ptr, err)
			}
		}
	})
}

// FuzzDecodeRendezvous decodes a rendezvous message: its descriptor comes
// from the RTS frame and its body from the data, separately, so a
// descriptor may be shorter than splitMessage would allow.
func FuzzDecodeRendezvous(f *testing.F) {
	for _, v := range seedValues() {
		desc, body, err := encodeValue(v)
		if err != nil {
			f.Fatalf("encodeValue(%#v): %v", v, err)
		}
		f.Add(desc, body)
	}
	f.Add([]byte{fmtRaw}, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{fmtMsgpack}, []byte{0xc0})
	f.Fuzz(func(t *testing.T, desc, body []byte) {
		for _, target := range decodeTargets {
			ptr := target()
			before := allocated()
			err := decodeInto(desc, body, ptr)
			if grew := allocated() - before; grew > decodeAllocBound(len(desc)+len(body)) {
				t.Fatalf("decodeInto(%T) of %d bytes allocated %d bytes", ptr, len(desc)+len(body), grew)
			}
			if err != nil && !errors.Is(err, ErrTypeMismatch) {
				t.Fatalf("decodeInto(%T): %v, not ErrTypeMismatch", ptr, err)
			}
		}
	})
}

// FuzzCollectiveCodecs feeds a payload to the decoders collectives use
// (valueCodec, sliceCodec, valueCodecFor), which see payloads with no
// descriptor (slices) or a descriptor (values).
func FuzzCollectiveCodecs(f *testing.F) {
	for _, v := range seedValues() {
		desc, body, _ := encodeValue(v)
		f.Add(joinMessage(desc, body))
	}
	f.Add(sliceBytes([]float64{1, 2, 3}))
	if b, err := sliceCodec[string]().Encode([]string{"a", "b"}); err == nil {
		f.Add(b)
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	decoders := []func([]byte) error{
		func(b []byte) error { _, err := valueCodec[int]().Decode(b); return err },
		func(b []byte) error { _, err := valueCodec[map[string][]int]().Decode(b); return err },
		func(b []byte) error { _, err := valueCodec[[]float64]().Decode(b); return err },
		func(b []byte) error { _, err := sliceCodec[float64]().Decode(b); return err },
		func(b []byte) error { _, err := sliceCodec[complex128]().Decode(b); return err },
		func(b []byte) error { _, err := sliceCodec[string]().Decode(b); return err },
		func(b []byte) error { _, err := sliceCodec[fuzzPoint]().Decode(b); return err },
		func(b []byte) error { _, err := valueCodecFor[[]int16]().Decode(b); return err },
		func(b []byte) error { _, err := valueCodecFor[fuzzPoint]().Decode(b); return err },
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for i, decode := range decoders {
			before := allocated()
			err := decode(payload)
			if grew := allocated() - before; grew > decodeAllocBound(len(payload)) {
				t.Fatalf("decoder %d: %d bytes allocated %d bytes", i, len(payload), grew)
			}
			if err != nil && !errors.Is(err, ErrTypeMismatch) {
				t.Fatalf("decoder %d: %v, not ErrTypeMismatch", i, err)
			}
		}
	})
}

// TestDecodeLyingLengthsAllocateLittle: msgpack lengths claiming far more
// than the message holds fail without allocating what they claim (msgpack
// v5.4.1 alone allocates a slice of the claimed length: 5 bytes claiming
// 2^32-1 int64s would allocate 32 GiB).
func TestDecodeLyingLengthsAllocateLittle(t *testing.T) {
	desc := []byte{fmtMsgpack, 0}
	for _, tc := range []struct {
		name string
		body []byte
		ptr  any
	}{
		{"array32 into []int64", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}, new([]int64)},
		{"array32 into []fuzzPoint", []byte{0xdd, 0x10, 0, 0, 0, 0xc0}, new([]fuzzPoint)},
		{"array32 into any", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}, new(any)},
		{"map32 into map", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}, new(map[string]int)},
		{"str32", []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, new(string)},
		{"bin32", []byte{0xc6, 0xff, 0xff, 0xff, 0xff, 'a'}, new([]byte)},
		{"nested array32", []byte{0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff}, new([][]int)},
	} {
		before := allocated()
		err := decodeInto(desc, tc.body, tc.ptr)
		grew := allocated() - before
		if !errors.Is(err, ErrTypeMismatch) {
			t.Errorf("%s: err = %v, want ErrTypeMismatch", tc.name, err)
		}
		if grew > 1<<20 {
			t.Errorf("%s: allocated %d bytes for a %d-byte message", tc.name, grew, len(tc.body))
		}
	}
}

// TestDecodeDeepNestingFails: a message of nested one-element arrays fails
// with an error instead of overflowing the decoder's stack (fatal).
func TestDecodeDeepNestingFails(t *testing.T) {
	body := bytes.Repeat([]byte{0x91}, 8<<20)
	var v any
	if err := decodeInto([]byte{fmtMsgpack, 0}, body, &v); !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("err = %v, want ErrTypeMismatch", err)
	}
	// Nesting within the limit still decodes.
	ok := append(bytes.Repeat([]byte{0x91}, 100), 0x01)
	if err := decodeInto([]byte{fmtMsgpack, 0}, ok, &v); err != nil {
		t.Fatalf("100 levels: %v", err)
	}
}

// TestDecodeShortRawDescriptor: a rendezvous descriptor of one byte saying
// "raw" is refused, not indexed past its end.
func TestDecodeShortRawDescriptor(t *testing.T) {
	var v []float64
	if err := decodeInto([]byte{fmtRaw}, make([]byte, 8), &v); !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("err = %v, want ErrTypeMismatch", err)
	}
}

// TestCheckMsgpackAcceptsEncoderOutput: everything the encoder produces
// passes checkMsgpack.
func TestCheckMsgpackAcceptsEncoderOutput(t *testing.T) {
	for _, v := range seedValues() {
		desc, body, err := encodeValue(v)
		if err != nil {
			t.Fatalf("encodeValue(%#v): %v", v, err)
		}
		if desc[0] != fmtMsgpack {
			continue
		}
		typ := reflect.TypeOf(v)
		if typ == nil {
			typ = reflect.TypeFor[any]()
		}
		if err := checkMsgpack(body, shapeOf(typ)); err != nil {
			t.Errorf("checkMsgpack(encoding of %#v): %v", v, err)
		}
	}
}

// TestDecodeExtensionReadAsMap: where the target expects a map, the
// decoder skips an extension's header and reads a map from its data on
// (msgpack v5.4.1's DecodeMapLen); lengths claimed there are checked too
// (found by FuzzDecodeRendezvous and FuzzCollectiveCodecs: 7 bytes made
// the decoder make a map of a million entries, 56 MB).
func TestDecodeExtensionReadAsMap(t *testing.T) {
	desc := []byte{fmtMsgpack, 0}
	for _, tc := range []struct {
		name string
		body []byte
		ptr  any
	}{
		{"map32 in a fixext2", []byte{0xd5, 0x30, 0xdf, 0x30, 0x30, 0x30, 0x30}, new(map[string]int)},
		{"array32 after a map in a fixext2", []byte{0xd5, 0x30, 0x81, 0xa0, 0xdd, 0xff, 0xff, 0xff, 0xff}, new(map[string][]int)},
		{"map16 in an ext8", []byte{0xc7, 0x00, 0x01, 0xde, 0xff, 0xff}, new([]map[int]int)},
		{"struct with a map", []byte{0xd5, 0x30, 0x81, 0xa0, 0xdd, 0xff, 0xff, 0xff, 0xff}, new(struct{ M map[string][]int })},
		{"a struct's map field", []byte{0x81, 0xa1, 'M', 0xd5, 0x30, 0x81, 0xa0, 0xdd, 0xff, 0xff, 0xff, 0xff}, new(struct{ M map[string][]int })},
		{"an embedded struct's map field", []byte{0x81, 0xa1, 'M', 0xd5, 0x30, 0x81, 0xa0, 0xdd, 0xff, 0xff, 0xff, 0xff}, new(struct{ embedded })},
	} {
		before := allocated()
		err := decodeInto(desc, tc.body, tc.ptr)
		grew := allocated() - before
		if !errors.Is(err, ErrTypeMismatch) {
			t.Errorf("%s: err = %v, want ErrTypeMismatch", tc.name, err)
		}
		if grew > 1<<20 {
			t.Errorf("%s: allocated %d bytes for a %d-byte message", tc.name, grew, len(tc.body))
		}
	}
}

// embedded is a struct whose fields msgpack inlines in its embedder's.
type embedded struct{ M map[string][]int }

// TestDecodeTimesWhoseDataLooksLikeAMap: timestamps whose extension data
// starts with a map code still decode, in maps, slices and structs.
func TestDecodeTimesWhoseDataLooksLikeAMap(t *testing.T) {
	// 64-bit timestamps hold nsec<<34 | sec: these start with 0x80 and 0xde.
	t1 := time.Unix(1700000000, 0x80<<22).UTC()
	t2 := time.Unix(1700000000, 0xde<<22).UTC()
	type stamped struct {
		At  time.Time
		N   int
		Map map[string]int
	}
	for _, v := range []any{
		map[string]time.Time{"a": t1, "b": t2},
		[]time.Time{t1, t2},
		map[time.Time][]time.Time{t1: {t2}},
		stamped{At: t1, N: 1, Map: map[string]int{"x": 1}},
		[]stamped{{At: t2}, {At: t1}},
	} {
		desc, body, err := encodeValue(v)
		if err != nil {
			t.Fatal(err)
		}
		ptr := reflect.New(reflect.TypeOf(v))
		if err := decodeInto(desc, body, ptr.Interface()); err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		// Compared printed (map keys sorted, times in UTC: the decoder gives
		// them in the local zone).
		if got := ptr.Elem().Interface(); fmt.Sprint(got) != fmt.Sprint(v) {
			t.Fatalf("%T: got %v, want %v", v, ptr.Elem().Interface(), v)
		}
	}
}
