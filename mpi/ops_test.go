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
