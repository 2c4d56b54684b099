package mpi

import (
	"math"
	"testing"
)

type celsius float64

func TestBuiltinOps(t *testing.T) {
	if Sum(2, 3) != 5 || Prod(2, 3) != 6 || Max(2, 3) != 3 || Min(2, 3) != 2 {
		t.Fatal("integer operators")
	}
	if Sum[celsius](1.5, 2) != 3.5 || Max(uint8(200), 100) != 200 || Min(int8(-3), 4) != -3 {
		t.Fatal("defined and small types")
	}
	if !math.IsNaN(Max(math.NaN(), 1)) || !math.IsNaN(Min(1, math.NaN())) {
		t.Fatal("NaN must win in Max and Min, in either position")
	}
}

func TestIsBuiltinOp(t *testing.T) {
	sumOf := func(a, b int) int { return a + b }
	var nilOp func(a, b int) int
	var viaVar func(a, b float64) float64 = Max[float64]
	for _, tc := range []struct {
		name string
		op   any
		want bool
	}{
		{"Sum[int]", Sum[int], true},
		{"Prod[float32]", Prod[float32], true},
		{"Max via a variable", viaVar, true},
		{"Min[celsius]", Min[celsius], true},
		{"a closure that adds", sumOf, false},
		{"a nil func", nilOp, false},
		{"not a func", 42, false},
		{"nil", nil, false},
	} {
		if got := isBuiltinOp(tc.op); got != tc.want {
			t.Errorf("isBuiltinOp(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestKernelsMatchTheOperators checks every built-in kernel against its
// operator element by element, NaN included, and that other functions get
// no kernel.
func TestKernelsMatchTheOperators(t *testing.T) {
	a := []float64{1, -2, math.NaN(), 4.5, math.Inf(1)}
	b := []float64{3, 7, 1, math.NaN(), -1}
	ops := map[string]func(x, y float64) float64{"Sum": Sum[float64], "Prod": Prod[float64], "Max": Max[float64], "Min": Min[float64]}
	for name, op := range ops {
		k := loopsOf(op).kernel
		if k == nil {
			t.Fatalf("%s[float64] has no kernel", name)
		}
		dst := make([]float64, len(a))
		k(dst, a, b)
		for i := range dst {
			want := op(a[i], b[i])
			if math.Float64bits(dst[i]) != math.Float64bits(want) && !(math.IsNaN(dst[i]) && math.IsNaN(want)) {
				t.Errorf("%s kernel: element %d is %v, want %v", name, i, dst[i], want)
			}
		}
	}
	ik := loopsOf(Max[int32]).kernel
	dst := make([]int32, 3)
	ik(dst, []int32{1, 9, -4}, []int32{5, 2, -8})
	if dst[0] != 5 || dst[1] != 9 || dst[2] != -4 {
		t.Errorf("Max[int32] kernel: %v", dst)
	}
	if loopsOf(func(x, y float64) float64 { return x + y }).kernel != nil {
		t.Error("a closure got a built-in kernel")
	}
	if loopsOf(Sum[celsius]).kernel != nil {
		t.Error("a defined type got a kernel (it falls back to the operator)")
	}
}
