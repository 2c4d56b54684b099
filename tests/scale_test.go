package tests

import (
	"fmt"
	"testing"
	"time"
)

// scaleNP is the job size of the scale test: far more ranks than this
// 2-core machine has cores.
const scaleNP = 64

// scaleLimit bounds each job of the scale test: the collectives suite at 64
// ranks takes a minute or two on a loaded 2-core machine.
const scaleLimit = 6 * time.Minute

// scaleLargest bounds the vectors of the collectives suite at 64 ranks
// (its "largest" argument): 300,000 float64 (2.4 MB) still take the ring's
// segments over NATS, span three of the arena's 1 MiB slots locally and go
// past a slot by messages (BcastInto): the paths the suite's 24 MB vectors
// take at np 1 to 8 (TestCollectives). Over NATS the 24 MB vectors, three
// reductions of them, moved about 9 GB through the one server and took 69
// of the job's 84 s on a quiet machine; locally, 1,200,000 (ten slots)
// took 22.5 s against 16.9 s with this (paravirtualized 2-core AMD EPYC,
// quiet, 2026-12-02).
const scaleLargest = 300_000

// TestSuitesAt64Ranks runs the point-to-point and collective suites at 64
// ranks on each transport. Skipped under -short: on a 2-core machine the
// collectives take up to a minute per transport.
func TestSuitesAt64Ranks(t *testing.T) {
	if testing.Short() {
		t.Skip("64 ranks on this machine's cores take minutes")
	}
	for _, tr := range transports {
		t.Run(tr.name+"/p2p", func(t *testing.T) {
			start := time.Now()
			expectPointToPoint(t, scaleNP, runGorun(t, job{np: scaleNP, prog: "p2p", flags: tr.flags, limit: scaleLimit}))
			t.Logf("%v", time.Since(start).Round(time.Millisecond))
		})
		t.Run(tr.name+"/collectives", func(t *testing.T) {
			start := time.Now()
			j := job{np: scaleNP, prog: "collectives", flags: tr.flags, limit: scaleLimit,
				args: []string{"largest", fmt.Sprint(scaleLargest)}}
			res := runGorun(t, j)
			t.Logf("%v", time.Since(start).Round(time.Millisecond))
			expectCollectives(t, scaleNP, res)
		})
	}
}
