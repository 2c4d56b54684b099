package mpi

import (
	"bytes"
	"reflect"
	"testing"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// onePointer is pointer-shaped: an interface holds it in its data word.
type onePointer struct{ P *int }

type twoWords struct{ A, B int32 }

type bigValue struct {
	Name  string
	Cells [200]float64
	Next  *bigValue
}

type named []string

// TestDetachedCopiesValues checks that detached hands the encoder an equal
// value of the same type (msgpack writes the same bytes for it), held in a
// box of its own rather than v's, for every shape an interface can hold.
func TestDetachedCopiesValues(t *testing.T) {
	x := 7
	values := []any{
		nil, 1000, int64(-2), uint64(3000), 4.5, true, "five", int8(6), float32(7.5),
		&x, map[string]int{"a": 1}, onePointer{&x}, [1]*int{&x}, twoWords{1, 2},
		struct{}{}, [0]int{}, bigValue{Name: "b", Cells: [200]float64{3: 1}, Next: &bigValue{Name: "c"}},
		named{"x", "y"}, []any{1, "two"}, [3]string{"a", "b", "c"},
	}
	for _, v := range values {
		got := detached(v)
		if !reflect.DeepEqual(got, v) || reflect.TypeOf(got) != reflect.TypeOf(v) {
			t.Errorf("detached(%#v) = %#v", v, got)
			continue
		}
		want, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if enc, err := msgpack.Marshal(got); err != nil || !bytes.Equal(enc, want) {
			t.Errorf("%T: msgpack of the copy %x (%v), of the value %x", v, enc, err, want)
		}
		rt := reflect.TypeOf(v)
		if v == nil || pointerShaped(rt) || rt.Size() == 0 || rt.Kind() == reflect.Bool {
			continue // no box, or the runtime's one static box of each value
		}
		if box(got) == box(v) {
			t.Errorf("%T: the copy is held in v's own box", v)
		}
	}
}

// box returns the data word of an interface.
func box(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).data }

// TestPointerShaped checks pointerShaped against the types whose
// interfaces hold them in the data word (a wrong answer makes detached
// read the wrong memory, which TestDetachedCopiesValues would see).
func TestPointerShaped(t *testing.T) {
	x := 7
	for _, c := range []struct {
		v    any
		want bool
	}{
		{&x, true}, {map[int]int{}, true}, {make(chan int), true}, {func() {}, true},
		{unsafe.Pointer(&x), true}, {onePointer{&x}, true}, {[1]*int{&x}, true},
		{1, false}, {int64(1), false}, {twoWords{1, 2}, false}, {[1]int{1}, false},
		{"s", false}, {[]int{1}, false}, {struct{}{}, false},
	} {
		if got := pointerShaped(reflect.TypeOf(c.v)); got != c.want {
			t.Errorf("pointerShaped(%T) = %v, want %v", c.v, got, c.want)
		}
	}
}
