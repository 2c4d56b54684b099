package freshmem

import (
	"fmt"
	"os"
	"strings"
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

// TestPrefaultMarksWholeHugePages: prefault marks for transparent huge
// pages (MADV_HUGEPAGE: "hg" in the mapping's flags) exactly the runs of
// fresh memory that are whole aligned huge pages, and no page outside the
// range it was given; with GODEBUG=disablethp=1 it marks none. Where the
// kernel has transparent huge pages on, the marked run is then backed by
// a huge page.
func TestPrefaultMarksWholeHugePages(t *testing.T) {
	for _, disabled := range []bool{false, true} {
		if disabled {
			t.Setenv("GODEBUG", "disablethp=1")
		}
		mem := alignedHuge(t, 4)
		// From inside the first huge page to inside the last: only the
		// two in the middle are whole.
		prefault(mem[hugeBytes/2 : len(mem)-hugeBytes/2])
		for i := range 4 {
			part := mem[i*hugeBytes : (i+1)*hugeBytes]
			flags, anonHuge := mappingOf(t, part)
			want := !disabled && (i == 1 || i == 2)
			if got := strings.Contains(" "+flags+" ", " hg "); got != want {
				t.Errorf("disablethp=%v: huge page %d of 4 marked %v, want %v (flags %q)", disabled, i, got, want, flags)
			}
			if want && thpEnabled() && anonHuge == 0 {
				t.Errorf("huge page %d: marked and populated, but no huge page backs it", i)
			}
		}
		if n := presentPages(t, mem); n != 3*hugeBytes/pageBytes {
			t.Errorf("disablethp=%v: %d pages present, want %d", disabled, n, 3*hugeBytes/pageBytes)
		}
	}
}

// alignedHuge maps n huge pages' worth of fresh anonymous memory aligned
// on a huge page, none of it present, each huge page a mapping of its own
// (so that /proc/self/smaps describes each alone).
func alignedHuge(t *testing.T, n int) []byte {
	t.Helper()
	raw, err := unix.Mmap(-1, 0, (n+1)*hugeBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { unix.Munmap(raw) })
	off := hugeBytes - int(uintptr(unsafe.Pointer(&raw[0]))%hugeBytes)
	mem := raw[off : off+n*hugeBytes]
	if err := unix.Madvise(mem[:pageBytes], unix.MADV_POPULATE_WRITE); err != nil {
		t.Skipf("the kernel has no MADV_POPULATE_WRITE: %v", err)
	}
	if err := unix.Madvise(mem[:pageBytes], unix.MADV_DONTNEED); err != nil || presentPages(t, mem) != 0 {
		t.Skipf("cannot unmap the page the check mapped: %v", err)
	}
	for i := range n {
		// Alternate protections only to keep the mappings apart (the
		// first unlike the memory before it).
		prot := unix.PROT_READ | unix.PROT_WRITE
		if i%2 == 0 {
			prot |= unix.PROT_EXEC
		}
		if err := unix.Mprotect(mem[i*hugeBytes:(i+1)*hugeBytes], prot); err != nil {
			t.Skipf("mprotect: %v", err)
		}
	}
	return mem
}

// mappingOf returns the VmFlags and AnonHugePages (kB) of the mapping
// that starts at mem's first byte, from /proc/self/smaps.
func mappingOf(t *testing.T, mem []byte) (flags string, anonHugeKB int) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("smaps: %v", err)
	}
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&mem[0])))
	in := false
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = strings.HasPrefix(line, start) // a mapping's first line
		}
		if !in {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "AnonHugePages:"); ok {
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &anonHugeKB)
		}
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			return strings.TrimSpace(rest), anonHugeKB
		}
	}
	t.Fatalf("no mapping starts at %s in /proc/self/smaps", start)
	return "", 0
}

// thpEnabled reports whether the kernel backs marked memory with
// transparent huge pages ("always" or "madvise").
func thpEnabled() bool {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	return err == nil && !strings.Contains(string(b), "[never]")
}
