package comm_test

import (
	"context"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gorun-mpi/gorun/comm"
)

// threadFaults is the calling thread's count of minor page faults.
func threadFaults(t *testing.T) int64 {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return ru.Minflt
}

// readFaults reads a byte of every page of mem and returns the page
// faults the thread took meanwhile, and the bytes' sum (which keeps the
// reads). It only reads: the ring is live.
func readFaults(t *testing.T, mem []byte) (faults int64, sum byte) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadFaults(t)
	for i := 0; i < len(mem); i += unix.Getpagesize() {
		sum += mem[i]
	}
	return threadFaults(t) - before, sum
}

// A ring's pages are present at both ends once the connection carrying it
// is made: reading every page of the dialer's and of the acceptor's
// mapping takes no page fault (without populateRing, one per page not yet
// reached by a record: 64 of a ring of the default size after one small
// frame, at each end).
func TestUnixRingPagesPresentAtBothEnds(t *testing.T) {
	us, _ := unixJob(t, 2, nil)
	recs := startAll(t, us)
	if err := us[1].Send(context.Background(), 0, comm.Header{Kind: kindData}, []byte("first")); err != nil {
		t.Fatal(err)
	}
	recs[0].WaitFor(t, "the first frame", func(frames []comm.Frame, _ map[int]error) bool { return len(frames) == 1 })
	out, _ := comm.UnixRingMems(us[1], 0, 0)
	_, in := comm.UnixRingMems(us[0], 1, 1)
	if out == nil || in == nil {
		t.Fatalf("no ring between the ranks (dialer's %d bytes, acceptor's %d)", len(out), len(in))
	}
	pages := len(out) / unix.Getpagesize()
	// A few faults may come from the runtime meanwhile; a fault per page
	// would be dozens.
	n, sum := readFaults(t, out)
	if n > 4 {
		t.Errorf("the dialer's mapping: %d page faults reading its %d pages, want them present", n, pages)
	}
	n, sum2 := readFaults(t, in)
	if n > 4 {
		t.Errorf("the acceptor's mapping: %d page faults reading its %d pages, want them present", n, pages)
	}
	t.Logf("%d pages at each end (bytes read sum to %d and %d)", pages, sum, sum2)
}
