package comm

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// threadFaults is the calling thread's count of minor page faults.
func threadFaults(t *testing.T) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return ru.Minflt
}

// touchFaults writes a byte of every page of mem and returns the page
// faults the thread took meanwhile.
func touchFaults(t *testing.T, mem []byte) int64 {
	before := threadFaults(t)
	for i := 0; i < len(mem); i += unix.Getpagesize() {
		mem[i]++
	}
	return threadFaults(t) - before
}

// Both ends of a ring find its pages present: writing every page of either
// mapping takes no page fault (without populateRing, one per page: 65 for
// a ring of the default size, on each side).
func TestRingPagesPresentOnBothSides(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, mem, err := createRing(DefaultRingSize)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFD(fd)
	defer unmapRing(mem)
	peer, err := mapPeerRing(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer unmapRing(peer)
	pages := len(mem) / unix.Getpagesize()
	// A few faults may come from the test itself (its stack, the
	// runtime); a page's worth of faults per page would be dozens.
	if n := touchFaults(t, mem); n > 4 {
		t.Errorf("the dialer's mapping: %d page faults writing its %d pages, want them present", n, pages)
	}
	if n := touchFaults(t, peer); n > 4 {
		t.Errorf("the acceptor's mapping: %d page faults writing its %d pages, want them present", n, pages)
	}
}

// A ring larger than ringPopulateLimit has its first ringPopulateLimit
// bytes present, and its further pages fault in as they are reached.
func TestLargeRingPopulatesItsStartOnly(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, mem, err := createRing(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFD(fd)
	defer unmapRing(mem)
	if n := touchFaults(t, mem[:ringPopulateLimit]); n > 4 {
		t.Errorf("%d page faults in the first %d bytes, want them present", n, ringPopulateLimit)
	}
	rest := (len(mem) - ringPopulateLimit) / unix.Getpagesize()
	if n := touchFaults(t, mem[ringPopulateLimit:]); n < int64(rest)/2 {
		t.Errorf("%d page faults in the %d pages past the limit, want about one each (not populated)", n, rest)
	}
}
