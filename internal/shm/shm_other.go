//go:build !linux

package shm

import (
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

// Create makes a shared memory file; only Linux has them.
func Create(name string, size int64) (*os.File, error) { return nil, ErrUnsupported }

func mapShared(f *os.File, size int) ([]byte, error) { return nil, ErrUnsupported }

func unmap(mem []byte) error { return nil }

// Wait sleeps briefly (no futexes here; never reached without Create).
func Wait(word *atomic.Uint32, val uint32, timeout time.Duration) {
	time.Sleep(min(timeout, 50*time.Microsecond))
}

// Wake does nothing where Wait polls.
func Wake(word *atomic.Uint32) {}

// Yield lets other goroutines run.
func Yield() { runtime.Gosched() }
