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

// builtinOpNames maps the runtime names of every instantiation of the
// built-in operators ("pkg.Name[...]": all instantiations of a generic
// function share it) to the operator's name.
var builtinOpNames = func() map[string]string {
	pkg := reflect.TypeFor[Comm]().PkgPath()
	names := map[string]string{}
	for _, op := range []string{"Sum", "Prod", "Max", "Min"} {
		names[pkg+"."+op+"[...]"] = op
	}
	return names
}()

// builtinName returns "Sum", "Prod", "Max" or "Min" when op is an
// instantiation of that built-in operator, and "" for any other function,
// closures wrapping the built-ins included.
func builtinName(op any) string {
	v := reflect.ValueOf(op)
	if v.Kind() != reflect.Func || v.IsNil() {
		return ""
	}
	fn := runtime.FuncForPC(v.Pointer())
	if fn == nil {
		return ""
	}
	return builtinOpNames[fn.Name()]
}

// isBuiltinOp reports whether op is an instantiation of Sum, Prod, Max or
// Min, which the collectives may apply in any order (ring allreduce).
func isBuiltinOp(op any) bool { return builtinName(op) != "" }

// builtinLoops are the whole-slice loops of one built-in operator on one
// number type: kernel does dst[i] = op(a[i], b[i]); fold combines several
// operands left to right (fold.go).
type builtinLoops[T any] struct {
	kernel func(dst, a, b []T)
	fold   func(dst []T, srcs ...[]T)
}

// loopsOf returns the loops doing what op does element by element, for the
// built-in operators on Go's number types, and no loops for any other
// function (nor for types defined on numbers, which fall back to op).
func loopsOf[T any](op func(a, b T) T) builtinLoops[T] {
	name := builtinName(op)
	if name == "" {
		return builtinLoops[T]{}
	}
	var l any
	switch any(*new(T)).(type) {
	case float64:
		l = numLoops[float64](name)
	case float32:
		l = numLoops[float32](name)
	case int:
		l = numLoops[int](name)
	case int64:
		l = numLoops[int64](name)
	case int32:
		l = numLoops[int32](name)
	case int16:
		l = numLoops[int16](name)
	case int8:
		l = numLoops[int8](name)
	case uint:
		l = numLoops[uint](name)
	case uint64:
		l = numLoops[uint64](name)
	case uint32:
		l = numLoops[uint32](name)
	case uint16:
		l = numLoops[uint16](name)
	case uint8:
		l = numLoops[uint8](name)
	}
	loops, _ := l.(builtinLoops[T])
	return loops
}

// numLoops are the loops of the built-in operator name on T.
func numLoops[T Number](name string) builtinLoops[T] {
	return builtinLoops[T]{kernel: numKernel[T](name), fold: numFold[T](name)}
}

// numKernel is the whole-slice loop of the built-in operator name.
func numKernel[T Number](name string) func(dst, a, b []T) {
	switch name {
	case "Sum":
		return func(dst, a, b []T) {
			a, b = a[:len(dst)], b[:len(dst)]
			for i := range dst {
				dst[i] = a[i] + b[i]
			}
		}
	case "Prod":
		return func(dst, a, b []T) {
			a, b = a[:len(dst)], b[:len(dst)]
			for i := range dst {
				dst[i] = a[i] * b[i]
			}
		}
	case "Max":
		return func(dst, a, b []T) {
			a, b = a[:len(dst)], b[:len(dst)]
			for i := range dst {
				dst[i] = max(a[i], b[i])
			}
		}
	case "Min":
		return func(dst, a, b []T) {
			a, b = a[:len(dst)], b[:len(dst)]
			for i := range dst {
				dst[i] = min(a[i], b[i])
			}
		}
	}
	return nil
}
