package collectives

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"
)

// TestNewResultOfViewsWholeElements: n float64s, over n*8 bytes of one
// new result, aligned for float64.
func TestNewResultOfViewsWholeElements(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 1 << 20} {
		v := newResultOf[float64](n)
		if len(v) != n {
			t.Fatalf("n=%d: got %d elements", n, len(v))
		}
		if n > 0 && uintptr(unsafe.Pointer(&v[0]))%unsafe.Alignof(v[0]) != 0 {
			t.Fatalf("n=%d: elements are not aligned", n)
		}
		for i := range v {
			v[i] = float64(i)
		}
		for i := range v {
			if v[i] != float64(i) {
				t.Fatalf("n=%d: element %d = %v", n, i, v[i])
			}
		}
	}
}

// TestShmResultsAreTheCallers: the results of AllreduceSlice and Bcast
// through an arena (one segment into the result area, several segments,
// one piece, many pieces) share no memory with the arena or the caller's
// operand, and keep their values while later calls reuse the arena.
func TestShmResultsAreTheCallers(t *testing.T) {
	t.Setenv("GORUN_COLL_ALLREDUCE", "shm")
	const np = 3
	errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
		region := c.(sharedConn).region.Mem()
		arena := arenaFor(c.(sharedConn).region)
		arena.pieceBytes = testPieceBytes
		type kept struct {
			label string
			got   []byte
			want  []byte
		}
		var keep []kept
		for _, n := range []int{100, 512, 2000, 5000} { // float64s: whole result, then segments
			v := rankOperand(c.Rank(), n)
			got, err := AllreduceSlice(c, rawFloat64s{}, v, sumF)
			if err != nil {
				return err
			}
			if err := checkSum(got, operandSums(np, n), v, c.Rank()); err != nil {
				return fmt.Errorf("AllreduceSlice n=%d: %w", n, err)
			}
			if overlap(bytesOf(got), region) || overlap(bytesOf(got), bytesOf(v)) {
				return fmt.Errorf("AllreduceSlice n=%d: the result shares memory with the arena or the operand", n)
			}
			keep = append(keep, kept{fmt.Sprint("AllreduceSlice n=", n), bytesOf(got), bytes.Clone(bytesOf(got))})
		}
		for _, n := range []int{500, 3 * testPieceBytes, testSlotBytes} { // one piece, several
			var v []byte
			if c.Rank() == 1 {
				v = pattern(n, 1)
			}
			got, err := Bcast(c, bytesCodec{}, v, 1)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, pattern(n, 1)) {
				return fmt.Errorf("Bcast n=%d: not the root's value", n)
			}
			if c.Rank() != 1 && overlap(got, region) {
				return fmt.Errorf("Bcast n=%d: the result shares memory with the arena", n)
			}
			keep = append(keep, kept{fmt.Sprint("Bcast n=", n), got, bytes.Clone(got)})
		}
		// Later calls with other data rewrite the arena's slots and result.
		for range 2 {
			if _, err := AllreduceSlice(c, rawFloat64s{}, rankOperand(c.Rank()+5, 5000), sumF); err != nil {
				return err
			}
			var v []byte
			if c.Rank() == 0 {
				v = pattern(testSlotBytes, 9)
			}
			if _, err := Bcast(c, bytesCodec{}, v, 0); err != nil {
				return err
			}
		}
		for _, k := range keep {
			if !bytes.Equal(k.got, k.want) {
				return fmt.Errorf("%s: the result changed in later calls", k.label)
			}
		}
		return nil
	})
	mustAll(t, "results", errs)
}

// overlap reports whether a and b share a byte.
func overlap(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	a0, b0 := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return a0 < b0+uintptr(len(b)) && b0 < a0+uintptr(len(a))
}
