package main

import (
	"errors"

	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// prepareNATS readies the NATS server a job will use and fills in job's
// NATS fields. fail ends the job with a one-line reason and an exit status
// (e.g. when the server is lost mid-job). Placeholder until the NATS
// transport lands.
func prepareNATS(cfg natsConfig, job *jobenv.Job, fail func(reason string, status int)) (cleanup func(), err error) {
	_, _, _ = cfg, job, fail
	return nil, errors.New("gorun: the NATS transport is not built yet")
}
