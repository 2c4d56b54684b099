package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"time"
)

// hostSpeed is what the host charged, when probed, for two things that
// move the figures of small calls and short jobs from one hour to the
// next on a virtual machine (its host's load, its memory handed back and
// forth): the first write to a fresh page of memory, which every process
// start and every new buffer pays, a chain of dependent arithmetic, which
// a small call's instructions are made of, and the start of a process that
// does nothing (`true`), the floor under a launch. BENCHMARKS.md prints it
// from before and after the measurements, so that two runs can be told
// apart by their host as well as by their code.
type hostSpeed struct {
	pageFault time.Duration // per 4 KiB page, first write
	chainStep float64       // nanoseconds per step of a dependent multiply-add chain
	// processStart is the mean time to start `true` and wait for its end
	// (fork, exec, exit, wait), 0 where there is no `true` to run.
	processStart time.Duration
	ok           bool
}

// probeRepeats: each probe runs this many times; the median is kept.
const probeRepeats = 5

// probeHost measures hostSpeed now (about 0.1 to 1 s).
func probeHost() hostSpeed {
	var faults, steps, starts []float64
	for range probeRepeats {
		pf, err := pageFaultCost(16 << 20)
		if err != nil {
			return hostSpeed{}
		}
		faults = append(faults, float64(pf))
		steps = append(steps, chainStepCost(20_000_000))
		if start, err := processStartCost(10); err == nil {
			starts = append(starts, float64(start))
		}
	}
	h := hostSpeed{pageFault: time.Duration(median(faults)), chainStep: median(steps), ok: true}
	if len(starts) == probeRepeats {
		h.processStart = time.Duration(median(starts))
	}
	return h
}

// processStartCost starts `true` n times, one after the other, waiting for
// each, and returns the mean time per process.
func processStartCost(n int) (time.Duration, error) {
	path, err := exec.LookPath("true")
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for range n {
		if err := exec.Command(path).Run(); err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
	}
	return time.Since(start) / time.Duration(n), nil
}

// chainStepCost times n steps of x = x*k + c, each waiting for the last,
// and returns the nanoseconds per step.
func chainStepCost(n int) float64 {
	x := uint64(n)
	start := time.Now()
	for range n {
		x = x*6364136223846793005 + 1442695040888963407
	}
	took := time.Since(start)
	runtime.KeepAlive(x) // the chain must be computed
	return float64(took) / float64(n)
}

// String is "page X us, chain step Y ns, process start Z ms" (without the
// last part where `true` could not be run), or "unknown".
func (h hostSpeed) String() string {
	if !h.ok {
		return "unknown"
	}
	s := fmt.Sprintf("page %.2f us, chain step %.2f ns", float64(h.pageFault)/1e3, h.chainStep)
	if h.processStart > 0 {
		s += fmt.Sprintf(", process start %.2f ms", float64(h.processStart)/1e6)
	}
	return s
}
