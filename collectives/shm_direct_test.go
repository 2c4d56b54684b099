package collectives

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestShmAllreduceShareWrittenStraightOut: a large AllreduceSlice through
// the arena writes each rank's own share straight into its result while
// folding it, and copies only the other shares out of the result area.
// Over seeded random lengths (one segment, several, past the result area)
// every rank's result is the sum, bit for bit, for a new result, for out
// the operand itself, for an out apart from it, and for an out that
// overlaps the operand shifted by a few elements (then nothing may be
// written out before the operand is read: the result is copied out at the
// end). A new result is never the memory of another: the next call, with
// other values, leaves the first call's result as it was.
func TestShmAllreduceShareWrittenStraightOut(t *testing.T) {
	t.Setenv("GORUN_COLL_ALLREDUCE", "shm")
	rng := rand.New(rand.NewPCG(17, 9))
	const maxWhole = testResultBytes / 8 // elements the result area holds
	for _, np := range []int{2, 3, 4} {
		lengths := []int{600, 1500, 2048, 3000}
		for range 3 {
			lengths = append(lengths, 513+rng.IntN(maxWhole), maxWhole+1+rng.IntN(3*maxWhole))
		}
		for _, n := range lengths {
			for _, form := range []string{"new", "in place", "apart", "shifted"} {
				if form == "shifted" && n > maxWhole {
					// Copied out segment by segment, a shifted out would
					// overwrite later segments of the operand before they
					// are read: MPI forbids such aliasing, and so do we.
					continue
				}
				label := fmt.Sprintf("np=%d n=%d out %s", np, n, form)
				want := operandSums(np, n)
				errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
					me := c.Rank()
					switch form {
					case "new":
						v := rankOperand(me, n)
						first, err := AllreduceSlice(c, rawFloat64s{}, v, sumF)
						if err != nil {
							return err
						}
						if err := checkSum(first, want, v, me); err != nil {
							return err
						}
						w := rankOperand(me+np, n) // other values
						if _, err := AllreduceSlice(c, rawFloat64s{}, w, sumF); err != nil {
							return err
						}
						if err := sameElements(first, want); err != nil {
							return fmt.Errorf("the first result changed in the second call: %w", err)
						}
						return nil
					case "in place":
						v := rankOperand(me, n)
						if err := AllreduceSliceInto(c, rawFloat64s{}, v, v, sumF); err != nil {
							return err
						}
						return sameElements(v, want)
					case "apart":
						buf := make([]float64, 2*n+5)
						v, out := buf[:n], buf[n+5:]
						copy(v, rankOperand(me, n))
						if err := AllreduceSliceInto(c, rawFloat64s{}, v, out, sumF); err != nil {
							return err
						}
						return checkSum(out, want, v, me)
					default:
						shift := 1 + me%3
						buf := make([]float64, n+shift)
						v, out := buf[:n], buf[shift:]
						copy(v, rankOperand(me, n))
						if err := AllreduceSliceInto(c, rawFloat64s{}, v, out, sumF); err != nil {
							return err
						}
						return sameElements(out, want)
					}
				})
				mustAll(t, label, errs)
			}
		}
	}
}

// TestSameOrApart: slices are written into directly only when they are
// the same memory or do not overlap.
func TestSameOrApart(t *testing.T) {
	buf := make([]float64, 20)
	cases := []struct {
		x, y []float64
		want bool
	}{
		{buf[:10], buf[:10], true},
		{buf[:10], buf[10:], true},
		{buf[10:], buf[:10], true},
		{buf[:10], buf[9:19], false},
		{buf[9:19], buf[:10], false},
		{buf[:10], buf[1:11], false},
		{buf[2:12], buf[:10], false},
		{nil, buf, true},
	}
	for i, c := range cases {
		if got := sameOrApart(c.x, c.y); got != c.want {
			t.Errorf("case %d: sameOrApart = %v, want %v", i, got, c.want)
		}
	}
}
