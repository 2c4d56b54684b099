package collectives

import (
	"errors"
	"reflect"
	"testing"
	"unsafe"
)

func TestSignatureRoundTrip(t *testing.T) {
	for _, s := range []Signature{
		{Call: Call{Kind: KindBarrier, Seq: 7}, Root: -1, Count: -1},
		{Call: Call{Kind: KindBcast, Seq: 1 << 30}, Root: 3, Elem: ElemOf[[]float64](), Count: -1},
		{Call: Call{Kind: KindReduceSlice}, Root: 0, Elem: ElemOf[int32](), Count: 12345},
	} {
		var b [SignatureLen]byte
		s.Put(b[:])
		got, ok := ParseSignature(b[:])
		if !ok || got != s {
			t.Errorf("%+v came back as %+v (%v)", s, got, ok)
		}
	}
	if _, ok := ParseSignature(make([]byte, SignatureLen)); ok {
		t.Error("zeros parsed as a signature")
	}
}

func TestSignatureMatchesAndMismatch(t *testing.T) {
	bcast := func(root int) Signature {
		return Signature{Call: Call{Kind: KindBcast}, Root: root, Elem: ElemOf[int](), Count: -1}
	}
	barrier := Signature{Call: Call{Kind: KindBarrier}, Root: -1, Count: -1}
	slice := func(n int) Signature {
		return Signature{Call: Call{Kind: KindReduceSlice}, Root: 0, Elem: ElemOf[float64](), Count: n}
	}
	cases := []struct {
		a, b  Signature
		match bool
		text  string // Mismatch(0, a, 1, b)
	}{
		{bcast(1), bcast(1), true, ""},
		{barrier, bcast(1), false, "collective mismatch: rank 0 called Barrier while rank 1 called Bcast(root 1)"},
		{bcast(0), bcast(1), false, "collective mismatch: rank 0 called Bcast(root 0) while rank 1 called Bcast(root 1)"},
		{Signature{Call: Call{Kind: KindAllreduce}, Root: -1, Elem: ElemOf[int](), Count: -1},
			Signature{Call: Call{Kind: KindAllreduce}, Root: -1, Elem: ElemOf[float64](), Count: -1}, false,
			"collective mismatch: rank 0 called Allreduce(of int) while rank 1 called Allreduce(of float64)"},
		{slice(4), slice(5), false,
			"collective mismatch: rank 0 called ReduceSlice(root 0, 4 elements) while rank 1 called ReduceSlice(root 0, 5 elements)"},
		{slice(4), slice(-1), true, ""},
	}
	for _, c := range cases {
		if got := c.a.Matches(c.b); got != c.match {
			t.Errorf("%v.Matches(%v) = %v", c.a, c.b, got)
		}
		if c.match {
			continue
		}
		err := Mismatch(0, c.a, 1, c.b)
		if err.Error() != c.text || !errors.Is(err, ErrCollectiveMismatch) {
			t.Errorf("Mismatch: %q, want %q wrapping ErrCollectiveMismatch", err, c.text)
		}
		if lengths := c.a.Kind == c.b.Kind && c.a.Root == c.b.Root && c.a.Elem == c.b.Elem; errors.Is(err, ErrLengthMismatch) != lengths {
			t.Errorf("Mismatch(%v, %v) wraps ErrLengthMismatch: %v", c.a, c.b, !lengths)
		}
	}
}

// TestSignatureFitsInRegisters guards Signature's shape: at most four
// fields and 32 bytes on a 64-bit machine, what the compiler keeps in
// registers (see Signature). A field more makes every small collective
// call pay for copies through memory.
func TestSignatureFitsInRegisters(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) < 8 {
		t.Skip("the shape is chosen for 64-bit machines")
	}
	typ := reflect.TypeFor[Signature]()
	if n, size := typ.NumField(), typ.Size(); n > 4 || size > 4*unsafe.Sizeof(uintptr(0)) {
		t.Errorf("Signature has %d fields of %d bytes in all; at most 4 and %d keep it in registers", n, size, 4*unsafe.Sizeof(uintptr(0)))
	}
	for i := range typ.NumField() {
		if f := typ.Field(i); f.Type.Kind() == reflect.Struct && f.Type.NumField() > 4 {
			t.Errorf("Signature.%s has %d fields; at most 4 keep it in registers", f.Name, f.Type.NumField())
		}
	}
}
