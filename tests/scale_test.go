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

// scaleLargestOverNATS bounds the vectors of the collectives suite at 64
// ranks over NATS (its "largest" argument): 300,000 float64 (2.4 MB) still
// take the ring's segments at 64 ranks, while the suite's 24 MB vectors,
// three reductions of them, moved about 9 GB through the one NATS server
// and took 69 of the job's 84 s here on a quiet machine. Over NATS the 24
// MB reductions run at np 1 to 8 (TestCollectives).
const scaleLargestOverNATS = 300_000

// scaleLargestLocal bounds them at 64 ranks on the local transport:
// 1,200,000 float64 (9.6 MB) span ten of the arena's 1 MiB slots at 64
// ranks, as the suite's 24 MB vectors spanned 23; the job took 35.6 s
// with them, 9.6 s with this (quiet 2-core AMD EPYC; the suite's time
// under two CPU hogs there was over 15 minutes). The 24 MB vectors run at
// np 1 to 8 (TestCollectives).
const scaleLargestLocal = 1_200_000

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
			j := job{np: scaleNP, prog: "collectives", flags: tr.flags, limit: scaleLimit}
			j.args = []string{"largest", fmt.Sprint(scaleLargestLocal)}
			if tr.name == "nats" {
				j.args = []string{"largest", fmt.Sprint(scaleLargestOverNATS)}
			}
			res := runGorun(t, j)
			t.Logf("%v", time.Since(start).Round(time.Millisecond))
			expectCollectives(t, scaleNP, res)
		})
	}
}
