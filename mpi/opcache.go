package mpi

import (
	"reflect"
	"sync"

	"github.com/gorun-mpi/gorun/collectives"
)

// opCache keeps, per engine, the collectives.Op made for each built-in
// operator a collective was called with: finding out that a function is
// Sum[float64] and building its loops costs allocations and a few hundred
// nanoseconds, as much as an 8-byte Allreduce on shared memory. Only the
// built-ins are kept (a function value's code pointer names them fully;
// closures with the same code may differ in what they captured).
type opCache struct {
	mu  sync.RWMutex
	ops map[opKey]any // collectives.Op[T]
}

type opKey struct {
	pc   uintptr
	elem reflect.Type
}

// opFor returns fn's collectives.Op, from the cache when fn is a built-in
// operator seen before.
func opFor[T any](cache *opCache, fn func(a, b T) T) collectives.Op[T] {
	if fn == nil {
		return opOf(fn)
	}
	key := opKey{reflect.ValueOf(fn).Pointer(), reflect.TypeFor[T]()}
	cache.mu.RLock()
	cached, ok := cache.ops[key]
	cache.mu.RUnlock()
	if op, isOp := cached.(collectives.Op[T]); ok && isOp {
		return op
	}
	op := opOf(fn)
	if !op.Commutative { // not a built-in
		return op
	}
	cache.mu.Lock()
	if cache.ops == nil {
		cache.ops = make(map[opKey]any)
	}
	cache.ops[key] = op
	cache.mu.Unlock()
	return op
}
