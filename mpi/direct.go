package mpi

import (
	"reflect"
	"unsafe"
)

// directTarget returns the memory of the slice ptr points to, up to its
// capacity, as bytes, and its element kind, when ptr is a pointer to a slice
// of fixed-size numbers with some capacity on a little-endian host: a
// rendezvous body of the same kind can then be read straight into it, as
// MPI reads into the receiver's buffer. Otherwise it returns nil.
func directTarget(ptr any) ([]byte, reflect.Kind) {
	if ptr == nil || !hostLittleEndian {
		return nil, reflect.Invalid
	}
	v := reflect.ValueOf(ptr)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Slice {
		return nil, reflect.Invalid
	}
	s := v.Elem()
	kind := s.Type().Elem().Kind()
	size, ok := rawKindSize(kind)
	if !ok || s.Cap() == 0 || uintptr(size) != s.Type().Elem().Size() {
		// The last: int and uint on a 32-bit host, 4 bytes each in
		// memory and 8 on the wire; their slice's memory is not
		// s.Cap()*size bytes long.
		return nil, reflect.Invalid
	}
	return unsafe.Slice((*byte)(s.UnsafePointer()), s.Cap()*size), kind
}
