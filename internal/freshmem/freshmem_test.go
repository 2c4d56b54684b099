package freshmem

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestBytesIsFreshMemory: each slice has the length asked for, holds
// what is written into it, and shares no byte with another, at
// sizes below, at and past the one whose pages are populated first.
func TestBytesIsFreshMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 8))
	for _, n := range []int{0, 1, 4095, 3*pageBytes + 5, prefaultBytes - 1, prefaultBytes, 8<<20 + 3} {
		a, b := Bytes(n), Bytes(n)
		if len(a) != n || len(b) != n {
			t.Fatalf("n=%d: got lengths %d and %d", n, len(a), len(b))
		}
		if n == 0 {
			continue
		}
		if overlap(a, b) {
			t.Fatalf("n=%d: two results share memory", n)
		}
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(rng.Uint32())
		}
		copy(a, want)
		clear(b)
		if !bytes.Equal(a, want) {
			t.Fatalf("n=%d: a result does not hold what was written into it", n)
		}
	}
}

// TestPrefaultChangesNoByte: populating the pages of memory that holds
// data (present pages, and a slice whose ends share pages with other
// bytes) leaves every byte as it was, inside the slice and around it.
func TestPrefaultChangesNoByte(t *testing.T) {
	buf := make([]byte, 1<<20+3*pageBytes)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	want := bytes.Clone(buf)
	for _, r := range [][2]int{{0, len(buf)}, {1, len(buf) - 1}, {pageBytes - 1, pageBytes + 2}, {123, 123 + prefaultBytes}} {
		prefault(buf[r[0]:r[1]])
		if !bytes.Equal(buf, want) {
			t.Fatalf("prefault of [%d:%d] changed the memory", r[0], r[1])
		}
	}
}

// TestPagesWithin: the whole pages inside a slice, and none when the
// slice holds no whole page.
func TestPagesWithin(t *testing.T) {
	buf := make([]byte, 8*pageBytes)
	base := uintptr(unsafe.Pointer(&buf[0]))
	first := (base + pageBytes - 1) &^ (pageBytes - 1) // the first page start inside buf
	at := int(first - base)
	cases := []struct {
		lo, hi  int
		addr    uintptr
		n       int
		comment string
	}{
		{at, at + 3*pageBytes, first, 3 * pageBytes, "page-aligned ends"},
		{at - 1, at + 3*pageBytes + 1, first, 3 * pageBytes, "ends inside pages"},
		{at + 1, at + 3*pageBytes, first + pageBytes, 2 * pageBytes, "starts just past a page"},
		{at + 1, at + pageBytes + 1, 0, 0, "no whole page"},
		{at, at, 0, 0, "empty"},
	}
	for _, c := range cases {
		addr, n := pagesWithin(buf[c.lo:c.hi])
		if addr != c.addr || n != c.n {
			t.Errorf("%s: got %#x+%d, want %#x+%d", c.comment, addr, n, c.addr, c.n)
		}
	}
}

// overlap reports whether a and b share a byte.
func overlap(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	a0, b0 := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return a0 < b0+uintptr(len(b)) && b0 < a0+uintptr(len(a))
}
