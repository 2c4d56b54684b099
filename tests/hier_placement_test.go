package tests

import (
	"fmt"
	"strings"
	"testing"
)

// hierPlacements are placements of one-host jobs on pretend hosts (the
// launcher's GORUN_TEST_PLACEMENT) under which the collectives run
// hierarchically: hosts in blocks of ranks (rank order kept for any
// operator), unequal blocks, three hosts, and interleaved hosts (where
// non-commutative operators fall back to the flat algorithms).
var hierPlacements = []string{"0,0,1,1", "0,0,0,1,1", "1,1,0,0,0,2", "0,1,0,1,0", "0,0,1,1,1,2,2,0"}

// TestPlacementHierCollectives runs the collective suite (every
// collective, rank order of non-commutative operators, bitwise agreement
// of float reductions, Split and Dup, errors on bad input) on placements
// over several pretend hosts: same-host pairs through Unix sockets, the
// others through NATS, collectives in phases per host, the phases on a
// host of those on the world through the shared memory gorun makes for
// each pretend host (TestPlacementHierSharedMemory proves they send no
// messages there), those on Split and Dup communicators by messages.
func TestPlacementHierCollectives(t *testing.T) {
	for _, placement := range hierPlacements {
		np := strings.Count(placement, ",") + 1
		t.Run(placement, func(t *testing.T) {
			expectCollectives(t, np, runGorun(t, job{np: np, prog: "collectives", env: []string{placementEnv + "=" + placement},
				args: []string{"largest", fmt.Sprint(reducedLargest)}}))
		})
	}
}

// TestPlacementHierMismatch: under a placement over two pretend hosts,
// every rank of a mismatched collective still reports an error wrapping
// mpi.ErrCollectiveMismatch naming both calls (each phase's messages
// carry the call's signature, as do the call headers in a host's shared
// memory, through which the phases on a host of calls on the world go).
func TestPlacementHierMismatch(t *testing.T) {
	modes := []struct {
		mode  string
		calls []string
	}{
		{"barrier-bcast", []string{"called Barrier", "called Bcast(root 1)"}},
		{"bcast-roots", []string{"called Bcast(root 0)", "called Bcast(root 1)"}},
		{"allreduce-lengths", []string{"called AllreduceSlice(10 elements)", "called AllreduceSlice(11 elements)"}},
		{"reduce-allreduce", []string{"called Reduce(root 0)", "called Allreduce"}},
		// A rank of a host by messages, the others in its shared memory.
		{"allreduce-types", []string{"called Allreduce(of float64)", "called Allreduce(of string)"}},
	}
	const np = 3
	for _, placement := range []string{"0,0,1", "0,1,1"} {
		for _, comm := range []string{"world", "split", "context"} {
			for _, m := range modes {
				t.Run(fmt.Sprintf("%s/%s/%s", placement, comm, m.mode), func(t *testing.T) {
					res := runGorun(t, job{np: np, prog: "collectives", args: []string{"mismatch", m.mode, comm},
						env: []string{placementEnv + "=" + placement}})
					if res.code != 3 {
						t.Errorf("exit status %d, want 3\nstderr:\n%s", res.code, res.stderr)
					}
					checkMismatchReports(t, res, np, m.calls)
					noProcessLeft(t, res)
				})
			}
		}
	}
}
