package collectives

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// boundCPU is the one CPU this process may run on, when it is bound to one
// (gorun binds each rank to one when ranks outnumber cores).
func boundCPU() (int, bool) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() != 1 {
		return 0, false
	}
	for c := range len(set) * int(unsafe.Sizeof(set[0])) * 8 {
		if set.IsSet(c) {
			return c, true
		}
	}
	return 0, false
}
