package mpi

import (
	"reflect"
	"runtime"
)

// Number is the constraint of the built-in operators: Go's integer and
// floating-point types, and types defined on them.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr |
		~float32 | ~float64
}

// Sum returns a + b. Like every built-in operator it is associative and
// commutative, so the collectives may combine operands in any order (for
// floats, any order the algorithm fixes; every rank of an Allreduce still
// gets the same bits).
func Sum[T Number](a, b T) T { return a + b }

// Prod returns a * b.
func Prod[T Number](a, b T) T { return a * b }

// Max returns the larger of a and b (NaN if either is NaN).
func Max[T Number](a, b T) T { return max(a, b) }

// Min returns the smaller of a and b (NaN if either is NaN).
func Min[T Number](a, b T) T { return min(a, b) }

// builtinOpNames are the runtime names of every instantiation of the
// built-in operators: the runtime names a generic function's instantiations
// "pkg.Name[...]".
var builtinOpNames = func() map[string]bool {
	pkg := reflect.TypeFor[Comm]().PkgPath()
	names := map[string]bool{}
	for _, op := range []string{"Sum", "Prod", "Max", "Min"} {
		names[pkg+"."+op+"[...]"] = true
	}
	return names
}()

// isBuiltinOp reports whether op is an instantiation of Sum, Prod, Max or
// Min, which the collectives may apply in any order (ring allreduce). Any
// other function, closures wrapping the built-ins included, is applied in
// rank order.
func isBuiltinOp(op any) bool {
	v := reflect.ValueOf(op)
	if v.Kind() != reflect.Func || v.IsNil() {
		return false
	}
	fn := runtime.FuncForPC(v.Pointer())
	return fn != nil && builtinOpNames[fn.Name()]
}
