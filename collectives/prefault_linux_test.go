package collectives

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestPrefaultMapsMissingPages: in fresh anonymous memory, prefault of a
// range leaves every whole page inside it present (where the kernel has
// MADV_POPULATE_WRITE), the pages around it as they were, and every byte
// zero; a second prefault, of pages all present, maps no other.
func TestPrefaultMapsMissingPages(t *testing.T) {
	const pages = 3*prefaultChunk + 7 // several chunks, the last one short
	mem, err := unix.Mmap(-1, 0, pages*pageBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	defer unix.Munmap(mem)
	if n := presentPages(t, mem); n != 0 {
		t.Skipf("%d pages of fresh memory are present already", n)
	}
	if err := unix.Madvise(mem[:pageBytes], unix.MADV_POPULATE_WRITE); err != nil {
		t.Skipf("the kernel has no MADV_POPULATE_WRITE: %v", err)
	}
	if err := unix.Madvise(mem[:pageBytes], unix.MADV_DONTNEED); err != nil || presentPages(t, mem) != 0 {
		t.Skipf("cannot unmap the page the check mapped: %v", err)
	}
	// From inside the first page to inside the last: pages 1..pages-2.
	inside := mem[100 : len(mem)-100]
	prefault(inside)
	vec := residency(t, mem)
	for i, p := range vec {
		want := i > 0 && i < pages-1
		if (p&1 == 1) != want {
			t.Fatalf("page %d of %d: present %v, want %v", i, pages, p&1 == 1, want)
		}
	}
	prefault(inside)
	if n := presentPages(t, mem); n != pages-2 {
		t.Fatalf("after a second prefault %d pages are present, want %d", n, pages-2)
	}
	for i, b := range mem { // reading maps the outer pages too: last
		if b != 0 {
			t.Fatalf("byte %d = %d after prefault", i, b)
		}
	}
}

// residency is mincore's vector for mem (page-aligned).
func residency(t *testing.T, mem []byte) []byte {
	t.Helper()
	vec := make([]byte, (len(mem)+pageBytes-1)/pageBytes)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		t.Skipf("mincore: %v", errno)
	}
	return vec
}

// presentPages counts mem's pages that are present.
func presentPages(t *testing.T, mem []byte) int {
	n := 0
	for _, p := range residency(t, mem) {
		n += int(p & 1)
	}
	return n
}
