package trace

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gorun-mpi/gorun/internal/shm"
)

// TestBufferPopulatesAhead: in shared memory, a buffer makes the pages of
// the slots ahead present in steps (the first small, then doubling up to
// maxPopulate), so that taking a slot finds its page there.
func TestBufferPopulatesAhead(t *testing.T) {
	const capacity = 20000
	f, err := shm.Create("test-trace", int64(BufferSize(capacity)))
	if err != nil {
		t.Skip(err)
	}
	region, err := shm.Map(f, BufferSize(capacity))
	if err != nil {
		t.Fatal(err)
	}
	defer region.Close()
	b, err := NewBuffer(region.Bytes(), capacity)
	if err != nil {
		t.Fatal(err)
	}
	resident := func(from, to int) int { // pages of slots from..to-1 present
		start := uintptr(unsafe.Pointer(&b.slots[from])) &^ (pageSize - 1)
		end := uintptr(unsafe.Pointer(&b.slots[to-1])) + uintptr(slotSize)
		vec := make([]byte, (end-start+pageSize-1)/pageSize)
		if _, _, errno := unix.Syscall(unix.SYS_MINCORE, start, end-start, uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
			t.Fatal(errno)
		}
		n := 0
		for _, v := range vec {
			n += int(v & 1)
		}
		return n
	}
	b.Take()
	if b.noPopulate {
		t.Skip("this kernel cannot populate pages (MADV_POPULATE_WRITE)")
	}
	if b.ready*slotSize < firstPopulate-pageSize || b.ready*slotSize > firstPopulate+pageSize {
		t.Fatalf("after one call %d slots (%d bytes) are ready, want about %d bytes", b.ready, b.ready*slotSize, firstPopulate)
	}
	if got, want := resident(0, b.ready), firstPopulate/pageSize; got < want {
		t.Fatalf("%d pages of the first %d slots present, want %d", got, b.ready, want)
	}
	for b.Used() < 15000 {
		b.Take()
	}
	if b.ready < 15000 || b.ready*slotSize > 15000*slotSize+maxPopulate+pageSize {
		t.Fatalf("after 15000 calls %d slots are ready", b.ready)
	}
	if got, want := resident(0, b.ready), (b.ready*slotSize)/pageSize; got < want {
		t.Fatalf("%d pages of the first %d slots present, want %d", got, b.ready, want)
	}
}
