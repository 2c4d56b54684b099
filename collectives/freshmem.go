package collectives

import "github.com/gorun-mpi/gorun/internal/freshmem"

// newResult returns a new slice of n bytes for a collective's result that
// the caller overwrites whole before anyone reads it, its pages made
// present at once when it is large (freshmem.Bytes: a result of several
// MiB is where the allocating forms, AllreduceSlice and Bcast, lose to the
// Into forms, and the loss is the memory, not the collector).
func newResult(n int) []byte { return freshmem.Bytes(n) }

// newResultOf is newResult for n elements of the fixed-size number E.
func newResultOf[E any](n int) []E {
	if n <= 0 {
		return []E{}
	}
	return viewOf[E](newResult(n*elemSize[E]()), 0, n)
}
