package commtest

import (
	"bytes"
	"runtime"
	"testing"
	"unsafe"

	"github.com/gorun-mpi/gorun/comm"
)

// testPeerMemoryWrite: a transport that can read peers' memory can write
// it too (PeerMemoryWriter), for exactly the same pairs; WritePeerMemory
// then copies bytes to an address of the peer's process (here: this test
// process), touching nothing beyond them, and fails for every other rank.
func testPeerMemoryWrite(t *testing.T, f Factory) {
	const n = 3
	job, recs := started(t, f, n)
	_, reads := job.Transports[0].(comm.PeerMemoryReader)
	_, writes := job.Transports[0].(comm.PeerMemoryWriter)
	if reads != writes {
		t.Fatalf("PeerMemoryReader %v but PeerMemoryWriter %v: a transport has both or neither", reads, writes)
	}
	if !writes {
		t.Skip("this transport kind cannot write peers' memory")
	}
	greetEveryPeer(t, job, recs)
	const guard = 64
	for a := range n {
		pm := job.Transports[a].(comm.PeerMemoryWriter)
		if pm.CanWritePeerMemory(a) || pm.CanWritePeerMemory(-1) || pm.CanWritePeerMemory(n) {
			t.Errorf("rank %d: CanWritePeerMemory holds for itself or a rank out of range", a)
		}
		for b := range n {
			if a == b {
				continue
			}
			want := job.PeerMemory != nil && job.PeerMemory(a, b) && runtime.GOOS == "linux"
			if got := pm.CanWritePeerMemory(b); got != want {
				t.Errorf("rank %d: CanWritePeerMemory(%d) = %v, want %v", a, b, got, want)
			}
			src := pattern(100<<10+a*n+b, byte(a*n+b))
			dst := bytes.Repeat([]byte{0xEE}, len(src)+2*guard)
			addr := uint64(uintptr(unsafe.Pointer(&dst[guard])))
			err := pm.WritePeerMemory(b, addr, src)
			runtime.KeepAlive(dst)
			untouched := bytes.Equal(dst[:guard], dst[len(dst)-guard:]) && dst[0] == 0xEE && dst[len(dst)-1] == 0xEE
			switch {
			case want && err != nil:
				t.Errorf("rank %d: WritePeerMemory(%d): %v", a, b, err)
			case want && (!bytes.Equal(dst[guard:guard+len(src)], src) || !untouched):
				t.Errorf("rank %d: WritePeerMemory(%d) wrote other bytes, or beyond its range", a, b)
			case !want && err == nil:
				t.Errorf("rank %d: WritePeerMemory(%d) succeeded where CanWritePeerMemory is false", a, b)
			}
		}
	}
	if err := job.Transports[0].(comm.PeerMemoryWriter).WritePeerMemory(0, 0x1000, make([]byte, 1)); err == nil {
		t.Error("rank 0 wrote its own memory as a peer's")
	}
}
