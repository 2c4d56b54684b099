package main

import (
	"fmt"
	"runtime"
	"time"
)

// hostSpeed is what the host charged, when probed, for two things that
// move the figures of small calls and short jobs from one hour to the
// next on a virtual machine (its host's load, its memory handed back and
// forth): the first write to a fresh page of memory, which every process
// start and every new buffer pays, and a chain of dependent arithmetic,
// which a small call's instructions are made of. BENCHMARKS.md prints it
// from before and after the measurements, so that two runs can be told
// apart by their host as well as by their code.
type hostSpeed struct {
	pageFault time.Duration // per 4 KiB page, first write
	chainStep float64       // nanoseconds per step of a dependent multiply-add chain
	ok        bool
}

// probeRepeats: each probe runs this many times; the median is kept.
const probeRepeats = 5

// probeHost measures hostSpeed now (about 0.1 to 1 s).
func probeHost() hostSpeed {
	var faults, steps []float64
	for range probeRepeats {
		pf, err := pageFaultCost(16 << 20)
		if err != nil {
			return hostSpeed{}
		}
		faults = append(faults, float64(pf))
		steps = append(steps, chainStepCost(20_000_000))
	}
	return hostSpeed{pageFault: time.Duration(median(faults)), chainStep: median(steps), ok: true}
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

// String is "page X us, chain step Y ns", or "unknown".
func (h hostSpeed) String() string {
	if !h.ok {
		return "unknown"
	}
	return fmt.Sprintf("page %.2f us, chain step %.2f ns", float64(h.pageFault)/1e3, h.chainStep)
}
