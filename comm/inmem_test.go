package comm_test

import (
	"testing"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/comm/commtest"
)

// kindData is the frame kind these tests send: the transports carry any
// kind of the layer above unread.
const kindData comm.Kind = 1

func TestInmemConformance(t *testing.T) {
	commtest.Run(t, func(t *testing.T, n int) commtest.Job {
		net := comm.NewNetwork(n)
		job := commtest.Job{Crash: net.Crash}
		for r := 0; r < n; r++ {
			job.Transports = append(job.Transports, net.Transport(r))
		}
		return job
	})
}
