package mpi

import "syscall"

// yieldCore gives this thread's core to any other runnable thread of the
// machine (sched_yield), as a polling MPI rank does when oversubscribed.
// It is a raw system call: sched_yield never blocks, and telling Go's
// scheduler about it (syscall.Syscall) lets the runtime's monitor hand this
// thread's P to another thread when the yield lasts a while (ranks sharing
// a core), which costs a thread wake-up and a P hand-back on return.
func yieldCore() { syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
