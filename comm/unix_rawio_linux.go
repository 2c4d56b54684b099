package comm

import (
	"syscall"
	"unsafe"
)

// rawIOLimit is the largest read or write of a non-blocking socket made
// without the scheduler's knowledge: a copy of that much takes
// microseconds.
const rawIOLimit = 64 << 10

// Reads and writes of non-blocking sockets up to rawIOLimit bytes are raw
// system calls, which Go's scheduler does not see. syscall.Read and
// syscall.Write tell it (entersyscall), and the first such call after the
// process was idle (every P idle: the rank slept, and the runtime's sysmon
// thread went into its deep sleep) wakes sysmon and resets it to waking
// every 20 us (about 100 us on a VM) for 50 rounds, then backing off. When
// every core is busy (two ranks polling on two cores) each of those
// wake-ups takes a core from a rank for 10-30 us: in an 8-byte ping-pong
// they were most of the calls between 8 us and 1 ms, and set its p99 (a
// 25-30 us round trip, 13-16 us one way). The end of a garbage collection
// (startTheWorld) resets sysmon the same way, so this removes one of the
// two triggers: with GOGC=off the ping-pong's p99 went from 13-16.5 to
// 5.4-6.9 us and sysmon's wake-ups during the loop from 180-340 to 0-99
// (perf sched_switch; issue 17, h-pptail's report). A non-blocking call
// never blocks, so the scheduler has nothing to do meanwhile; larger
// transfers stay visible to it, since they may last long enough for the P
// to be wanted elsewhere.

// readNonblocking reads from a non-blocking descriptor.
func readNonblocking(fd int, b []byte) (int, error) {
	if len(b) > rawIOLimit {
		return syscall.Read(fd, b)
	}
	return rawIO(syscall.SYS_READ, fd, b)
}

// writeNonblocking writes to a non-blocking descriptor.
func writeNonblocking(fd int, b []byte) (int, error) {
	if len(b) > rawIOLimit {
		return syscall.Write(fd, b)
	}
	return rawIO(syscall.SYS_WRITE, fd, b)
}

// rawIO is read or write (trap) of b on fd as a raw system call.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	n, _, errno := syscall.RawSyscall(trap, uintptr(fd), uintptr(p), uintptr(len(b)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}
