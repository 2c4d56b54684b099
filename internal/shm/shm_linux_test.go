package shm

import (
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// mapTwice maps one new shared memory file twice, as two ranks would.
func mapTwice(t *testing.T, size int) (*Region, *Region) {
	t.Helper()
	f, err := Create("shm-test", int64(size))
	if err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Map(f, size)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Map(os.NewFile(uintptr(fd), "dup"), size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestMappingsShareMemory(t *testing.T) {
	a, b := mapTwice(t, 1<<20)
	if &a.Bytes()[0] == &b.Bytes()[0] {
		t.Fatal("the two mappings are one")
	}
	for i, x := range b.Bytes() {
		if x != 0 {
			t.Fatalf("byte %d of a new file is %d", i, x)
		}
	}
	a.Bytes()[12345] = 42
	if got := b.Bytes()[12345]; got != 42 {
		t.Fatalf("a write through one mapping reads %d through the other", got)
	}
}

func TestMapRefusesAShortFile(t *testing.T) {
	f, err := Create("short", 4096)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Map(f, 8192); err == nil {
		t.Fatal("mapped 8192 bytes of a 4096-byte file")
	}
}

// TestWaitAndWake: a sleeper on a word of one mapping is woken by a change
// and Wake through the other; without a change, Wait returns at its timeout;
// with the word already changed, at once.
func TestWaitAndWake(t *testing.T) {
	a, b := mapTwice(t, 4096)
	wa := (*atomic.Uint32)(unsafe.Pointer(&a.Bytes()[64]))
	wb := (*atomic.Uint32)(unsafe.Pointer(&b.Bytes()[64]))

	start := time.Now()
	Wait(wa, 0, 50*time.Millisecond)
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("Wait with nothing changing returned after %v, before its 50ms timeout", d)
	}

	woke := make(chan time.Duration)
	go func() {
		start := time.Now()
		for wa.Load() == 0 {
			Wait(wa, 0, 30*time.Second)
		}
		woke <- time.Since(start)
	}()
	time.Sleep(50 * time.Millisecond)
	wb.Store(1)
	Wake(wb)
	select {
	case d := <-woke:
		if d > 10*time.Second {
			t.Errorf("woken after %v", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the sleeper was not woken")
	}

	start = time.Now()
	Wait(wa, 0, 5*time.Second) // the word is 1 already
	if d := time.Since(start); d > time.Second {
		t.Errorf("Wait on a changed word slept %v", d)
	}
}
