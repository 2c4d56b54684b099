//go:build linux

package collectives

import (
	"syscall"
	"testing"

	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// TestShmCoreIdle: a waiting rank counts its core idle (and polls instead
// of yielding) only when it knows every rank bound to its CPU and each of
// them is in a wait its counters have not ended; a core-mate at work, in a
// wait that is over, or not yet known, has the core instead. Ranks 0 and 2
// share CPU 0, ranks 1 and 3 CPU 1, as gorun binds 4 ranks to 2 cores.
func TestShmCoreIdle(t *testing.T) {
	const np = 4
	size := shmcoll.HeaderBytes(np) + np*testSlotBytes + testResultBytes
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	arenas := make([]*arena, np)
	for r := range np {
		region, err := shmcoll.NewSized(mem, r, np, testSlotBytes, testResultBytes, shmcoll.Hooks{Yield: true})
		if err != nil {
			t.Fatal(err)
		}
		arenas[r] = newArena(region)
		arenas[r].setCPU(0, false) // not bound: the test places them
	}
	a, mate := arenas[0], arenas[2]
	mine := waitState(arrivedKind, -1, 5)
	expect := func(what string, want bool) {
		t.Helper()
		if got := a.coreIdle(mine); got != want {
			t.Errorf("%s: core idle %v, want %v", what, got, want)
		}
	}
	a.setCPU(0, true)
	mate.publishWait(mine)
	expect("other ranks' CPUs not yet known", false)
	for r := 1; r < np; r++ {
		arenas[r].setCPU(r%2, true)
	}
	expect("core-mate in the same wait", true)
	mate.publishWait(0)
	expect("core-mate at work", false)

	// The core-mate waits for every other rank's reduced counter to reach
	// 4: not over while any of them lags.
	mate.publishWait(waitState(reducedKind, -1, 4))
	expect("core-mate in a wait not over", true)
	for _, r := range []int{0, 1} {
		arenas[r].post(reducedKind, 4)
	}
	expect("core-mate in a wait not over (rank 3 lags)", true)
	arenas[3].post(reducedKind, 4)
	expect("core-mate in a wait that is over", false)

	// The core-mate waits for rank 1 alone.
	mate.publishWait(waitState(arrivedKind, 1, 3))
	expect("core-mate waiting for rank 1", true)
	arenas[1].post(arrivedKind, 3)
	expect("core-mate whose rank 1 has arrived", false)

	// Ranks on the other CPU do not count, whatever they do.
	mate.publishWait(mine)
	arenas[1].publishWait(0)
	arenas[3].publishWait(0)
	expect("other CPU's ranks at work", true)

	// A rank alone on its CPU has no one to yield to; a rank not bound
	// to one CPU yields as before.
	arenas[3].setCPU(5, true)
	if !arenas[3].coreIdle(waitState(arrivedKind, -1, 1)) {
		t.Error("a rank alone on its CPU: core not idle")
	}
	a.setCPU(0, false)
	expect("rank not bound to one CPU", false)
}
