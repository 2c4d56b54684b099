package mpi

import (
	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// newNATSTransport joins the job through the NATS server gorun chose
// (its embedded one, or --nats URL).
func newNATSTransport(job jobenv.Job) (comm.Transport, error) {
	return comm.NewNATS(comm.NATSConfig{
		Rank: job.Rank, Size: job.Size,
		JobID: job.JobID, Secret: job.Secret,
		URL: job.NatsURL, CredsFile: job.NatsCreds, CAFile: job.NatsCA,
	})
}
