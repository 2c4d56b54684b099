package comm

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// threadFaults is the calling thread's count of minor page faults.
func threadFaults(t *testing.T) int64 {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		t.Fatal(err)
	}
	return int64(ru.Minflt) // int32 on 32-bit systems
}

// touchPages writes (or, with write false, reads) one byte of every page of
// mem and returns the minor page faults that cost the calling thread.
func touchPages(t *testing.T, mem []byte, write bool) int64 {
	t.Helper()
	page := os.Getpagesize()
	var sum byte
	before := threadFaults(t)
	for off := 0; off < len(mem); off += page {
		if write {
			mem[off] = 1
		} else {
			sum += mem[off]
		}
	}
	after := threadFaults(t)
	_ = sum
	return after - before
}

// TestRingPagesMappedUpFront: the writer's and the reader's mappings of a
// ring come with every page in place (ringMapFlags): touching each page of
// the ring afterwards costs neither side a page fault per page, which the
// first lap of a ring would otherwise pay in the program's first loop.
func TestRingPagesMappedUpFront(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, mem, err := createRing(DefaultRingSize)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFD(fd)
	defer unmapRing(mem)
	pages := int64(len(mem) / os.Getpagesize())
	if faults := touchPages(t, mem, true); faults > pages/8 {
		t.Errorf("the writer's first touch of %d pages cost %d page faults: the ring was not populated", pages, faults)
	}
	peer, err := mapPeerRing(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer unmapRing(peer)
	if faults := touchPages(t, peer, false); faults > pages/8 {
		t.Errorf("the reader's first read of %d pages cost %d page faults: its mapping was not populated", pages, faults)
	}
	if peer[0] != 1 {
		t.Errorf("the reader's mapping does not see the writer's byte")
	}
}
