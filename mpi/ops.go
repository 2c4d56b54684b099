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
	loops, _ := loopsAndName(op)
	return loops
}

// loopsAndName is loopsOf, and builtinName of op.
func loopsAndName[T any](op func(a, b T) T) (builtinLoops[T], string) {
	var l any
	var name string
	switch any(*new(T)).(type) {
	case float64:
		l, name = numLoopsOf(op, Sum[float64], Prod[float64], Max[float64], Min[float64])
	case float32:
		l, name = numLoopsOf(op, Sum[float32], Prod[float32], Max[float32], Min[float32])
	case int:
		l, name = numLoopsOf(op, Sum[int], Prod[int], Max[int], Min[int])
	case int64:
		l, name = numLoopsOf(op, Sum[int64], Prod[int64], Max[int64], Min[int64])
	case int32:
		l, name = numLoopsOf(op, Sum[int32], Prod[int32], Max[int32], Min[int32])
	case int16:
		l, name = numLoopsOf(op, Sum[int16], Prod[int16], Max[int16], Min[int16])
	case int8:
		l, name = numLoopsOf(op, Sum[int8], Prod[int8], Max[int8], Min[int8])
	case uint:
		l, name = numLoopsOf(op, Sum[uint], Prod[uint], Max[uint], Min[uint])
	case uint64:
		l, name = numLoopsOf(op, Sum[uint64], Prod[uint64], Max[uint64], Min[uint64])
	case uint32:
		l, name = numLoopsOf(op, Sum[uint32], Prod[uint32], Max[uint32], Min[uint32])
	case uint16:
		l, name = numLoopsOf(op, Sum[uint16], Prod[uint16], Max[uint16], Min[uint16])
	case uint8:
		l, name = numLoopsOf(op, Sum[uint8], Prod[uint8], Max[uint8], Min[uint8])
	default:
		name = builtinName(op) // types defined on numbers: no loops
	}
	loops, _ := l.(builtinLoops[T])
	return loops, name
}

// numLoopsOf returns the loops and the name of op when it is a built-in
// operator on T, given the built-ins' instantiations on T. It first
// compares op with those (cheap: no lookup of the function's name, which
// costs about as much as a small collective), then falls back to
// builtinName. The instantiations come from the caller, written with a
// concrete T: inside a generic function, Sum[T] would be a new closure.
func numLoopsOf[T Number](op any, sum, prod, mx, mn func(a, b T) T) (builtinLoops[T], string) {
	name := ""
	if f, ok := op.(func(a, b T) T); ok && f != nil {
		switch reflect.ValueOf(f).Pointer() {
		case reflect.ValueOf(sum).Pointer():
			name = "Sum"
		case reflect.ValueOf(prod).Pointer():
			name = "Prod"
		case reflect.ValueOf(mx).Pointer():
			name = "Max"
		case reflect.ValueOf(mn).Pointer():
			name = "Min"
		}
	}
	if name == "" {
		name = builtinName(op)
	}
	if name == "" {
		return builtinLoops[T]{}, ""
	}
	return numLoops[T](name), name
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
