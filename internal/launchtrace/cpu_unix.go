//go:build unix

package launchtrace

import "syscall"

// processCPU is the CPU time this process has taken so far (user and
// system), in microseconds; -1 where it cannot be read.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return (ru.Utime.Nano() + ru.Stime.Nano()) / 1000
}
