package mpi

import (
	"fmt"
	"strings"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// jobTransport builds the transport gorun chose for this job
// (GORUN_TRANSPORT): Unix sockets in the job directory, or NATS.
func jobTransport(job jobenv.Job) (comm.Transport, error) {
	switch job.Transport {
	case "", jobenv.TransportLocal:
		return comm.NewUnix(comm.UnixConfig{Rank: job.Rank, Size: job.Size, Dir: job.Dir, Secret: job.Secret})
	case jobenv.TransportNATS:
		return newNATSTransport(job)
	}
	return nil, fmt.Errorf("unknown transport %q in %s (want %s)", job.Transport, jobenv.Transport, strings.Join(jobenv.Transports(), " or "))
}
