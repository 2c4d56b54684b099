package shmcoll

import (
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// alignedMem is n zeroed bytes starting on a page.
func alignedMem(n int) []byte {
	buf := make([]byte, n+Align)
	off := (Align - int(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))%Align) % Align
	return buf[off : off+n]
}

func TestLayoutSizes(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 8, 64, 256} {
		slot, head := SlotBytes(n), HeaderBytes(n)
		if slot%Align != 0 || head%Align != 0 {
			t.Errorf("n=%d: slot %d or header %d not page-aligned", n, slot, head)
		}
		if slot < slotMin || slot > slotMax {
			t.Errorf("n=%d: slot %d outside [%d, %d]", n, slot, slotMin, slotMax)
		}
		if head < n*(CountersPerRank+1)*Line+HeaderSets*n*CallHeader || HeadersAt(n) < PresenceAt(n, n-1)+Line {
			t.Errorf("n=%d: header area %d too small for the counters, the presence lines and %d sets of call headers", n, head, HeaderSets)
		}
		if got, want := Size(n), head+n*slot+ResultBytes; got != want {
			t.Errorf("n=%d: Size %d, want %d", n, got, want)
		}
	}
	if HeaderSets < 2 || HeaderSets&(HeaderSets-1) != 0 {
		t.Errorf("HeaderSets %d: calls need two sets at least, and a power of two that divides the wrap of a uint32 call count", HeaderSets)
	}
	if SlotBytes(64) >= SlotBytes(4) {
		t.Errorf("slots do not shrink in large jobs: %d at 64 ranks, %d at 4", SlotBytes(64), SlotBytes(4))
	}
}

func TestNewChecksItsMemory(t *testing.T) {
	const slot, result = 4 << 10, 16 << 10
	need := HeaderBytes(3) + 3*slot + result
	mem := alignedMem(need + Align)
	if _, err := NewSized(mem[:need], 2, 3, slot, result, Hooks{}); err != nil {
		t.Fatalf("memory of the right size: %v", err)
	}
	for name, try := range map[string]func() error{
		"too small":  func() error { _, err := NewSized(mem[:need-1], 0, 3, slot, result, Hooks{}); return err },
		"misaligned": func() error { _, err := NewSized(mem[8:need+8], 0, 3, slot, result, Hooks{}); return err },
		"bad rank":   func() error { _, err := NewSized(mem, 3, 3, slot, result, Hooks{}); return err },
		"no ranks":   func() error { _, err := NewSized(mem, 0, 0, slot, result, Hooks{}); return err },
	} {
		if try() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestAttachMakesTheStateOnce(t *testing.T) {
	r, err := NewSized(alignedMem(HeaderBytes(1)+4096+4096), 0, 1, 4096, 4096, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	var made atomic.Int32
	newState := func(got *Region) any {
		if got != r {
			t.Error("newState got another region")
		}
		made.Add(1)
		return new(int)
	}
	states := make([]any, 8)
	var wg sync.WaitGroup
	for i := range states {
		wg.Go(func() { states[i] = r.Attach(newState) })
	}
	wg.Wait()
	for _, s := range states {
		if s != states[0] {
			t.Fatal("Attach returned different states")
		}
	}
	if made.Load() != 1 {
		t.Errorf("the state was made %d times", made.Load())
	}
}
