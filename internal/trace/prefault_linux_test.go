package trace

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gorun-mpi/gorun/internal/shm"
)

// TestBufferPopulatesAhead: in shared memory, a buffer makes the pages of
// the log ahead present in steps (the first small, then doubling up to
// maxPopulate), so that writing an entry finds its page there.
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
	resident := func(to int) int { // pages of the log's bytes 0..to-1 present
		start := uintptr(unsafe.Pointer(&b.log[0])) &^ (pageSize - 1)
		end := uintptr(unsafe.Pointer(&b.log[0])) + uintptr(to)
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
	call := func(i int) {
		c := b.Begin("Send", 0, int64(1000*i), Wait{})
		b.Send(c, SendPart{Dest: 1, Tag: 5, Size: 8, Seq: uint64(i)})
		b.End(c, int64(1000*i+500), nil, false, "")
	}
	call(0)
	if b.noPopulate {
		t.Skip("this kernel cannot populate pages (MADV_POPULATE_WRITE)")
	}
	if b.ready < firstPopulate-pageSize || b.ready > firstPopulate+pageSize {
		t.Fatalf("after one call %d bytes of log are ready, want about %d", b.ready, firstPopulate)
	}
	if got, want := resident(b.ready), b.ready/pageSize; got < want {
		t.Fatalf("%d pages of the first %d bytes present, want %d", got, b.ready, want)
	}
	for i := 1; i < 15000; i++ {
		call(i)
	}
	if b.ready < b.used || b.ready > b.used+maxPopulate+maxCallBytes+pageSize {
		t.Fatalf("after 15000 calls (%d bytes) %d bytes are ready", b.used, b.ready)
	}
	if got, want := resident(b.ready), b.ready/pageSize; got < want {
		t.Fatalf("%d pages of the first %d bytes present, want %d", got, b.ready, want)
	}
}
