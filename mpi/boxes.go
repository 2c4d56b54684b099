package mpi

import (
	"reflect"
	"unsafe"
)

// Sending a value must not make the caller's argument escape: converting a
// slice to the `any` that Send takes puts its header in a small box, which
// the compiler allocates on the heap only when the callee lets the
// interface itself reach the heap. The raw path never does (it keeps the
// slice's elements, not the box), but two things on the way did: the
// msgpack encoder (reflection: the compiler cannot see that it keeps
// nothing) and reflect.Value.UnsafePointer. A Send of a []byte cost the
// caller an allocation (and its share of garbage collection) per call, 13%
// of an 8-byte ping-pong's mean. The helpers below read v's box without
// letting it escape.

// eface is the layout of an interface value: its dynamic type, and either
// the value itself (a pointer-shaped type) or the address of a box holding
// the value.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// boxedSliceData returns the address of the elements of the slice v holds
// (v's dynamic type must be a slice type: it is boxed).
func boxedSliceData(v any) unsafe.Pointer {
	return *(*unsafe.Pointer)((*eface)(unsafe.Pointer(&v)).data)
}

// detached returns an interface holding a copy of v's value in a box of its
// own, for the msgpack encoder: v's own box does not escape. Other values
// than the common ones below cost an allocation more than before (the
// copy's array and its box), next to what msgpack costs them.
func detached(v any) any {
	// The most common values are boxed again by conversion: one box, as
	// the caller's was (a case naming two types would hand back v).
	switch x := v.(type) {
	case nil:
		return nil
	case int:
		return x
	case int64:
		return x
	case uint64:
		return x
	case float64:
		return x
	case bool:
		return x
	case string:
		return x
	}
	t := reflect.TypeOf(v)
	e := (*eface)(unsafe.Pointer(&v))
	if t == nil {
		// Never taken (v is not nil). It tells the compiler what the
		// copy below holds: what v's box holds (the copy is made by
		// reflect.Copy, which the compiler cannot see through). So
		// whatever v's box points to lives on the heap, as the heap
		// copy's pointers require, and only the box itself may stay on
		// the caller's stack.
		return *(*any)(e.data)
	}
	value := e.data // where a t is held: the box...
	if pointerShaped(t) {
		value = unsafe.Pointer(&e.data) // ...or the interface's own word
	}
	one := reflect.ArrayOf(1, t)
	cp := reflect.New(one).Elem()
	reflect.Copy(cp, reflect.NewAt(one, value).Elem())
	return cp.Index(0).Interface()
}

// pointerShaped reports whether an interface holds a t in its data word
// rather than in a box: t is one pointer (a pointer, map, channel,
// function, or a struct or array wrapping exactly one of those; which
// wrappers count depends on the Go release, so those are asked of the
// runtime: the zero value of a pointer-shaped type is a nil data word).
func pointerShaped(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Struct, reflect.Array:
		if t.Size() != unsafe.Sizeof(uintptr(0)) {
			return false
		}
		zero := reflect.Zero(t).Interface()
		return (*eface)(unsafe.Pointer(&zero)).data == nil
	}
	return false
}
