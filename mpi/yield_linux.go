package mpi

import "syscall"

// yieldCore gives this thread's core to any other runnable thread of the
// machine (sched_yield), as a polling MPI rank does when oversubscribed.
func yieldCore() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
