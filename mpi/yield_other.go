//go:build !linux

package mpi

import "runtime"

// yieldCore lets other goroutines run; without sched_yield the OS decides.
func yieldCore() { runtime.Gosched() }
