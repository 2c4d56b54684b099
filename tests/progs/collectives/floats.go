package main

import (
	"unsafe"

	"github.com/gorun-mpi/gorun/internal/freshmem"
)

// floats returns n float64 whose values are undefined, for a caller that
// writes every one before reading it. The vectors of the checks reach
// 24 MB a rank, and writing fresh heap memory costs a page fault per
// 4 KiB, which on a paravirtualized VM (12-17 us each) outweighed the
// collectives under test; freshmem makes the pages present in one
// system call.
func floats(n int) []float64 {
	if n == 0 {
		return []float64{}
	}
	b := freshmem.Bytes(8 * n)
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(b))), n)
}
