//go:build !linux

package mpi

// takeLauncherTimerSlack: timer slack is a Linux setting, which gorun sets
// nowhere else.
func takeLauncherTimerSlack(string) error { return nil }
