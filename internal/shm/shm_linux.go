package shm

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Create makes a shared memory file of size bytes, named name in
// /proc/self/fd listings only. The caller hands it to the processes that
// share it (exec.Cmd.ExtraFiles) and closes its own copy.
func Create(name string, size int64) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("shm: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, fmt.Errorf("shm: sizing the shared memory to %d bytes: %w", size, err)
	}
	return f, nil
}

func mapShared(f *os.File, size int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

func unmap(mem []byte) error { return unix.Munmap(mem) }

// Wait sleeps while *word == val, for at most timeout; it may also return
// early for no reason. word must lie in shared memory for a Wake from
// another process to reach it.
func Wait(word *atomic.Uint32, val uint32, timeout time.Duration) {
	ts := unix.NsecToTimespec(timeout.Nanoseconds())
	// FUTEX_WAIT, not the private variant: the word is shared between processes.
	syscall.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWait,
		uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// Wake wakes every process sleeping in Wait on word.
func Wake(word *atomic.Uint32) {
	syscall.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWake,
		uintptr(1<<31-1), 0, 0, 0)
}

// Yield gives this thread's core to another runnable thread (sched_yield).
// A system call Go's scheduler knows of, not a raw one: see mpi's
// yieldCore for the figures.
func Yield() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }

// Futex operations (linux/futex.h); the shared, not _PRIVATE, variants.
const (
	futexWait = 0
	futexWake = 1
)
