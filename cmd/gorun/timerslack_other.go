//go:build !linux

package main

// withRankTimerSlack: timer slack is a Linux setting; elsewhere ranks keep
// the system's.
func withRankTimerSlack() (restore func(), err error) { return func() {}, nil }
