package mpi

import (
	"fmt"
	"math"
	"testing"
)

// TestFoldMatchesPairwise: the fold of every built-in operator gives, bit
// for bit, what applying the operator pairwise left to right gives, for 1
// to 9 operands (groups of four, then of three more) and floats whose sums
// depend on the order.
func TestFoldMatchesPairwise(t *testing.T) {
	ops := map[string]func(a, b float64) float64{"Sum": Sum[float64], "Prod": Prod[float64], "Max": Max[float64], "Min": Min[float64]}
	for name, op := range ops {
		fold := loopsOf(op).fold
		if fold == nil {
			t.Fatalf("%s: no fold", name)
		}
		for k := 1; k <= 9; k++ {
			const n = 37
			srcs := make([][]float64, k)
			for j := range srcs {
				srcs[j] = make([]float64, n)
				for i := range srcs[j] {
					// Small, huge, minus huge: the small ones survive only
					// in left-to-right order.
					srcs[j][i] = []float64{1 + float64(i), 1e16, -1e16, 0.5}[j%4] * (1 + float64(j/4))
				}
			}
			srcs[k/2][3] = math.NaN()
			want := append([]float64(nil), srcs[0]...)
			for _, s := range srcs[1:] {
				for i := range want {
					want[i] = op(want[i], s[i])
				}
			}
			got := make([]float64, n)
			fold(got, srcs...)
			for i := range got {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Errorf("%s of %d operands: element %d = %v, want %v", name, k, i, got[i], want[i])
				}
			}
		}
	}
	if loopsOf(func(a, b float64) float64 { return a + b }).fold != nil {
		t.Error("a user operator got a fold")
	}
	if f := loopsOf(Sum[uint8]).fold; f == nil {
		t.Error("no fold for uint8")
	} else {
		got := make([]uint8, 1)
		f(got, []uint8{200}, []uint8{100}, []uint8{1})
		if got[0] != uint8(301%256) {
			t.Error(fmt.Sprint("uint8 sum wraps: got ", got[0]))
		}
	}
}
