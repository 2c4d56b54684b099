package main

import (
	"fmt"
	"os"

	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// testPlacementEnv names a test-only environment variable: a placement
// (jobenv.Placement's format, e.g. "0,0,1,1") that gorun hands the ranks
// of a job on this one host as if they ran on several. gorun then starts
// both the local socket directory and a NATS server (its embedded one, or
// --nats URL), so ranks with different host indices talk through NATS and
// the others through Unix sockets; each host index gets shared memory of
// its own for the phases of the collectives among its ranks, as each
// agent makes one for its ranks (hostMemory).
const testPlacementEnv = "GORUN_TEST_PLACEMENT"

// applyTestPlacement sets job's placement from GORUN_TEST_PLACEMENT, if set.
func applyTestPlacement(np int, job *jobenv.Job) error {
	text := os.Getenv(testPlacementEnv)
	if text == "" {
		return nil
	}
	hosts, err := jobenv.ParsePlacement(text, np)
	if err != nil {
		return fmt.Errorf("gorun: %s: %w", testPlacementEnv, err)
	}
	job.Placement = hosts
	return nil
}
