//go:build linux

package collectives

import (
	"fmt"
	"runtime"
	"testing"
	"unsafe"
)

// viewFloat64s is a raw codec for []float64 that, as the mpi layer's on a
// little-endian host, encodes a slice as a view of its memory and decodes
// a view of the payload: it allocates nothing itself.
type viewFloat64s struct{}

func (viewFloat64s) Raw() bool { return true }

func (viewFloat64s) Encode(v []float64) ([]byte, error) {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 8*len(v)), nil
}

func (viewFloat64s) Decode(b []byte) ([]float64, error) {
	if len(b)%8 != 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 != 0 {
		return nil, fmt.Errorf("%d bytes is not an aligned []float64", len(b))
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8), nil
}

// TestShmSmallCallsAllocateNothing: a loop of small collectives through
// the arena (Barrier, Allreduce of a number, AllreduceSliceInto, BcastInto)
// allocates nothing on any rank, so that it never brings a garbage
// collection: every rank's allocations, counted over many calls of each,
// stay below one per twenty calls (the test harness's own, such as a timer,
// may fall in the window). Before the arena kept its scratch the loop at
// np=2 allocated 8826 objects, over five per call and rank.
func TestShmSmallCallsAllocateNothing(t *testing.T) {
	const warmUp, calls = 20, 400
	for _, np := range []int{2, 3} {
		var before, after runtime.MemStats
		sums := make([]float64, np)
		errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
			me := c.Rank()
			v, out := []float64{1, float64(me)}, make([]float64, 2)
			buf := make([]float64, 4)
			loop := func(n int) error {
				for i := range n {
					if err := Barrier(c); err != nil {
						return err
					}
					s, err := Allreduce(c, float64Value{}, float64(me+i), sumF)
					if err != nil {
						return err
					}
					sums[me] = s
					if err := AllreduceSliceInto(c, viewFloat64s{}, v, out, sumF); err != nil {
						return err
					}
					if out[0] != float64(np) {
						return fmt.Errorf("call %d: AllreduceSliceInto gave %v", i, out)
					}
					if err := BcastInto(c, viewFloat64s{}, buf, i%np); err != nil {
						return err
					}
				}
				return nil
			}
			if err := loop(warmUp); err != nil {
				return err
			}
			// Barriers line the ranks up around the counted loop; rank 0
			// reads the process's counters (every rank's allocations).
			if err := Barrier(c); err != nil {
				return err
			}
			if me == 0 {
				runtime.ReadMemStats(&before)
			}
			if err := Barrier(c); err != nil {
				return err
			}
			if err := loop(calls); err != nil {
				return err
			}
			if err := Barrier(c); err != nil {
				return err
			}
			if me == 0 {
				runtime.ReadMemStats(&after)
			}
			return Barrier(c)
		})
		for r, err := range errs {
			if err != nil {
				t.Fatalf("np=%d rank %d: %v", np, r, err)
			}
		}
		// Every rank's last Allreduce: sum over ranks of (me + calls-1).
		if want := float64(np*(calls-1) + np*(np-1)/2); sums[0] != want {
			t.Fatalf("np=%d: last Allreduce gave %v, want %v", np, sums[0], want)
		}
		allocs := after.Mallocs - before.Mallocs
		t.Logf("np=%d: %d allocations in %d calls of 4 collectives on %d ranks", np, allocs, calls, np)
		if allocs > calls*4/20 {
			t.Errorf("np=%d: %d allocations in %d calls of 4 collectives on %d ranks, want none", np, allocs, calls, np)
		}
	}
}
