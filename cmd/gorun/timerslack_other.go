//go:build !linux

package main

// withRankTimerSlack: timer slack is a Linux setting; elsewhere ranks keep
// the system's.
func withRankTimerSlack() (restore func(), env []string, err error) { return func() {}, nil, nil }
