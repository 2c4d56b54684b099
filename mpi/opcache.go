package mpi

import (
	"reflect"
	"sync"
	"sync/atomic"

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
	ops map[opKey]*opEntry
	// last is the entry found last: a loop of calls with one operator
	// finds it without hashing the key (Allreduce 8 B np=2: the map
	// lookup was a tenth of the call's own work).
	last atomic.Pointer[opEntry]
}

// opEntry is one cached operator: a collectives.Op[T] for key's T.
type opEntry struct {
	key opKey
	op  any
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
	if e := cache.last.Load(); e != nil && e.key == key {
		if op, isOp := e.op.(collectives.Op[T]); isOp {
			return op
		}
	}
	cache.mu.RLock()
	cached, ok := cache.ops[key]
	cache.mu.RUnlock()
	if ok {
		if op, isOp := cached.op.(collectives.Op[T]); isOp {
			cache.last.Store(cached)
			return op
		}
	}
	op := opOf(fn)
	if !op.Commutative { // not a built-in
		return op
	}
	cache.mu.Lock()
	if cache.ops == nil {
		cache.ops = make(map[opKey]*opEntry)
	}
	cache.ops[key] = &opEntry{key: key, op: op}
	cache.mu.Unlock()
	return op
}
