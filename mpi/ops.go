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

// kernelOf returns a whole-slice loop doing what op does element by element,
// for the built-in operators on Go's number types, or nil.
func kernelOf[T any](op func(a, b T) T) func(dst, a, b []T) {
	name := builtinName(op)
	if name == "" {
		return nil
	}
	var k any
	switch any(*new(T)).(type) {
	case float64:
		k = numKernel[float64](name)
	case float32:
		k = numKernel[float32](name)
	case int:
		k = numKernel[int](name)
	case int64:
		k = numKernel[int64](name)
	case int32:
		k = numKernel[int32](name)
	case int16:
		k = numKernel[int16](name)
	case int8:
		k = numKernel[int8](name)
	case uint:
		k = numKernel[uint](name)
	case uint64:
		k = numKernel[uint64](name)
	case uint32:
		k = numKernel[uint32](name)
	case uint16:
		k = numKernel[uint16](name)
	case uint8:
		k = numKernel[uint8](name)
	}
	f, _ := k.(func(dst, a, b []T))
	return f
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
