package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// phaseClock notes, for -phases, when each phase of a rank's static-split
// work ended: milliseconds since the clock started (the Barrier), so that
// the ranks' lines can be laid side by side. bench/haversine/haversine.c
// prints the same line with the same names. A nil clock notes nothing.
type phaseClock struct {
	start time.Time
	ends  []string // "name=ms", in order
}

// newPhaseClock starts a clock when on, else returns nil.
func newPhaseClock(on bool, start time.Time) *phaseClock {
	if !on {
		return nil
	}
	return &phaseClock{start: start}
}

// mark notes that the phase name has just ended.
func (p *phaseClock) mark(name string) {
	if p == nil {
		return
	}
	ms := float64(time.Since(p.start).Microseconds()) / 1000
	p.ends = append(p.ends, fmt.Sprintf("%s=%.1f", name, ms))
}

// report writes rank's line: "phases rank R: gen1=... sent1=... ...".
func (p *phaseClock) report(w io.Writer, rank int) {
	if p == nil {
		return
	}
	fmt.Fprintf(w, "phases rank %d: %s\n", rank, strings.Join(p.ends, " "))
}
