package collectives

import "unsafe"

// copyAround copies src into dst (of the same length) around the caches
// (copyAroundCache), the bytes at either end that are not whole 64-byte
// blocks of 16-byte aligned memory by copy.
//
// The others of a large Bcast copy into their new result (newResult) this
// way. A new result is memory the caches have not seen since the call
// that last held it (the heap cycles a rank's results through three or
// four of them), and at np=4 on 2 cores three ranks write 8 MiB each into
// such memory at once: copy's stores (REP MOVSQ here) took 1.2 ms a call
// against 0.7 into BcastInto's buffer (perf, CPU samples in memmove per
// call), where a rank alone copies as fast into either. A test program
// copying 8 MiB from shared memory in 256 KiB pieces, three at once on 2
// cores, per-copy p50: into the same buffer 615-670 us, into a new result
// each time 856-1175, with non-temporal stores into a new result 755-799.
// In the ranks (bench/ops, four alternated rounds against main at load
// 3.3, Open MPI's twin in each): Bcast 8 MiB np=4 means 2.05-2.14 ms ->
// 1.81-1.84 (Open MPI 2.14-3.07), 1 MiB 459-475 -> 386-400 us; BcastInto
// and AllreduceSlice unchanged. The value is then in no cache when the
// program reads it; at these sizes it would mostly have left them anyway.
//
// Tried and dropped, each against main in alternated runs: the result
// starting on a huge page boundary so that all of it is huge pages
// (AnonHugePages 18 -> 24 MiB per rank, CPU samples in memmove and means
// unchanged: the TLB is not where the time goes); allocating the result
// before waiting for the root, sized as the call before (means unchanged,
// the garbage collection it starts still runs during the copy); copying
// in 1 MiB batches of pieces (no change); and, as diagnoses only, GOGC
// 25 or 400 (no change: the collector's own work is not the cost).
func copyAround(dst, src []byte) {
	n := min(len(dst), len(src))
	if n == 0 {
		return
	}
	head := int(-uintptr(unsafe.Pointer(unsafe.SliceData(dst))) % 16)
	if head >= n {
		copy(dst[:n], src[:n])
		return
	}
	copy(dst[:head], src[:head])
	body := (n - head) &^ 63
	if body > 0 {
		copyAroundCache(&dst[head], &src[head], uintptr(body))
	}
	copy(dst[head+body:n], src[head+body:n])
}
