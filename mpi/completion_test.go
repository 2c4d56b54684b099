package mpi

import (
	"testing"
	"time"
)

// TestExpectTransferCapsLongTransfers: a waiter polls through a body's
// expected copy time (4 GB/s), and through maxTransferSpin of a longer
// one, never through nothing (a 16 MiB ping-pong's sender then slept
// through every copy and paid a wake-up on each).
func TestExpectTransferCapsLongTransfers(t *testing.T) {
	for _, tc := range []struct {
		size int
		want time.Duration
	}{
		{0, 0},
		{1 << 20, 256 * time.Microsecond},
		{4 << 20, 1024 * time.Microsecond},
		{16 << 20, 4096 * time.Microsecond},
		{64 << 20, maxTransferSpin},
		{1 << 30, maxTransferSpin},
	} {
		var c completion
		c.expectTransfer(tc.size)
		if got := time.Duration(c.transfer.Load()); got != tc.want {
			t.Errorf("expectTransfer(%d): polls through %v, want %v", tc.size, got, tc.want)
		}
	}
}
