package mpi

import (
	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// newNATSTransport joins the job through the NATS server gorun chose
// (its embedded one, or --nats URL), serving peers (nil: every rank). A rank that gorun watches (a control
// channel) does not judge its peers by their silence: gorun sees a rank's
// process end and ends the job, and a rank that finishes says goodbye.
func newNATSTransport(job jobenv.Job, peers []int) (comm.Transport, error) {
	cfg := comm.NATSConfig{
		Rank: job.Rank, Size: job.Size,
		JobID: job.JobID, Secret: job.Secret,
		URL: job.NatsURL, CredsFile: job.NatsCreds, CAFile: job.NatsCA,
		Peers: peers,
	}
	if job.Control != "" {
		cfg.PeerTimeout = -1
	}
	return comm.NewNATS(cfg)
}
