//go:build !linux

package main

// allowedCPUs: binding is supported on Linux only; elsewhere ranks are
// placed by the system.
func allowedCPUs() ([]int, error) { return nil, nil }

func bindThread(cpus []int) error { return nil }
