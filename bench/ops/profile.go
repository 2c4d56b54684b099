package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles starts the CPU profile p asks for and returns the function
// that stops it and writes the allocation profile, each to its file with
// ".rank" appended, so that every rank of the job writes its own.
func startProfiles(p plan, rank int) (stop func(), err error) {
	stop = func() {}
	if p.cpuProfile != "" {
		f, err := os.Create(fmt.Sprintf("%s.%d", p.cpuProfile, rank))
		if err != nil {
			return nil, fmt.Errorf("-cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("-cpuprofile: %w", err)
		}
		stop = func() {
			pprof.StopCPUProfile()
			f.Close()
		}
	}
	if p.memProfile == "" {
		return stop, nil
	}
	stopCPU := stop
	return func() {
		stopCPU()
		f, err := os.Create(fmt.Sprintf("%s.%d", p.memProfile, rank))
		if err != nil {
			fmt.Fprintln(os.Stderr, "ops: -memprofile:", err)
			return
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			fmt.Fprintln(os.Stderr, "ops: -memprofile:", err)
		}
	}, nil
}
