package main

import (
	"errors"

	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// prepareNATS readies the NATS server a job will use and fills in job's
// NATS fields. Placeholder until the NATS transport lands.
func prepareNATS(cfg natsConfig, job *jobenv.Job) (cleanup func(), err error) {
	_, _ = cfg, job
	return nil, errors.New("gorun: the NATS transport is not built yet")
}
