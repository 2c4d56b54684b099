package comm

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// A ring larger than ringPopulateLimit has its first ringPopulateLimit
// bytes made present, and its further pages fault in as they are reached.
func TestLargeRingPopulatesItsStartOnly(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, mem, err := createRing(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFD(fd)
	defer unmapRing(mem)
	populateRing(mem)
	faults := func(b []byte) int64 {
		var before, after unix.Rusage
		unix.Getrusage(unix.RUSAGE_THREAD, &before)
		for i := 0; i < len(b); i += unix.Getpagesize() {
			b[i]++
		}
		unix.Getrusage(unix.RUSAGE_THREAD, &after)
		return after.Minflt - before.Minflt
	}
	if n := faults(mem[:ringPopulateLimit]); n > 4 {
		t.Errorf("%d page faults in the first %d bytes, want them present", n, ringPopulateLimit)
	}
	rest := (len(mem) - ringPopulateLimit) / unix.Getpagesize()
	if n := faults(mem[ringPopulateLimit:]); n < int64(rest)/2 {
		t.Errorf("%d page faults in the %d pages past the limit, want about one each (not populated)", n, rest)
	}
}
