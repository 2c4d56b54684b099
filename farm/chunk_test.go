package farm

import (
	"testing"
	"time"
)

func TestChunker(t *testing.T) {
	fixed := chunker{fixed: 10, workers: 3}
	if got := fixed.next(1000); got != 10 {
		t.Errorf("fixed 10: %d", got)
	}
	if got := fixed.next(4); got != 4 {
		t.Errorf("fixed 10, 4 left: %d", got)
	}

	tiny := chunker{workers: 3}
	if got := tiny.next(1_000_000); got != 1 {
		t.Errorf("before any observation: %d, want 1", got)
	}
	tiny.observe(100*time.Nanosecond, 16, 1) // 100 ns and 16 bytes per input
	if got := tiny.next(1_000_000); got != 20_000 {
		t.Errorf("100 ns per input: %d, want 2 ms worth (20,000)", got)
	}
	if got := tiny.next(1200); got != 100 {
		t.Errorf("1200 left: %d, want a share of them (1200/12)", got)
	}
	if got := tiny.next(5); got != 1 {
		t.Errorf("5 left: %d, want 1", got)
	}

	heavy := chunker{workers: 3}
	heavy.observe(5*time.Millisecond, 16, 1)
	if got := heavy.next(1000); got != 1 {
		t.Errorf("5 ms per input: %d, want 1", got)
	}

	big := chunker{workers: 3}
	big.observe(time.Microsecond, 100<<10, 1) // fast but 100 KiB per input
	if got := big.next(1000); got != 1 {
		t.Errorf("100 KiB per input: %d, want 1", got)
	}

	mid := chunker{workers: 3}
	mid.observe(10*time.Nanosecond, 1<<10, 1) // 1 KiB per input: 1 MiB is 1024 inputs
	if got := mid.next(1_000_000); got != 1024 {
		t.Errorf("1 KiB per input: %d, want 1024", got)
	}
}
