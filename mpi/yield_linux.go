package mpi

import "syscall"

// yieldCore gives this thread's core to any other runnable thread of the
// machine (sched_yield), as a polling MPI rank does when oversubscribed.
// It is a system call Go's scheduler knows of (not RawSyscall): a raw yield
// cut the tail at np=4 on 2 cores of an otherwise idle machine (Allreduce
// 8 B 6.2 -> 4.0 us per call), but with other processes running a yield
// that lasts a whole time slice of theirs then holds the P and the rank
// comes back late (np=4, machine load 7: 6.1 -> 10.3 us, calls over 1 ms
// 2 -> 34 per 20000; three yes hogs: 4.7 -> 19 ms), where the runtime's
// hand-off of the P makes the thread sleep and be woken ahead of them.
func yieldCore() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
