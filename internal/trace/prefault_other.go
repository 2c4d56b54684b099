//go:build !linux

package trace

// populate does nothing here: pages come as they are written.
func populate(addr uintptr, n int) bool { return false }
