//go:build !linux

package collectives

// boundCPU: binding is known on Linux only; elsewhere a rank yields to
// the ranks beside it as if they had work.
func boundCPU() (int, bool) { return 0, false }
