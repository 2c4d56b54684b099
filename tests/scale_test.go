package tests

import (
	"testing"
	"time"
)

// scaleNP is the job size of the scale test: far more ranks than this
// 2-core machine has cores.
const scaleNP = 64

// scaleLimit bounds each job of the scale test: the collectives suite at 64
// ranks takes a minute or two on a loaded 2-core machine.
const scaleLimit = 6 * time.Minute

// TestSuitesAt64Ranks runs the point-to-point and collective suites at 64
// ranks on each transport. Skipped under -short: on a 2-core machine the
// collectives take one to two minutes per transport.
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
			res := runGorun(t, job{np: scaleNP, prog: "collectives", flags: tr.flags, limit: scaleLimit})
			t.Logf("%v", time.Since(start).Round(time.Millisecond))
			expectCollectives(t, scaleNP, res)
		})
	}
}
