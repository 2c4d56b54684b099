package mpi

import (
	"fmt"
	"os"
	"strings"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// jobTransport builds the transport gorun chose for this job: with a
// placement (GORUN_PLACEMENT), a composite of the local transport for the
// ranks on our host and NATS for the others; otherwise the one
// GORUN_TRANSPORT names: Unix sockets in the job directory, or NATS.
func jobTransport(job jobenv.Job) (comm.Transport, error) {
	if job.Placement != nil {
		return placedTransport(job)
	}
	switch job.Transport {
	case "", jobenv.TransportLocal:
		return newUnixTransport(job, nil)
	case jobenv.TransportNATS:
		return newNATSTransport(job, nil)
	}
	return nil, fmt.Errorf("unknown transport %q in %s (want %s)", job.Transport, jobenv.Transport, strings.Join(jobenv.Transports(), " or "))
}

// newUnixTransport joins the job through Unix sockets in its directory,
// serving peers (nil: every rank).
func newUnixTransport(job jobenv.Job, peers []int) (comm.Transport, error) {
	return comm.NewUnix(comm.UnixConfig{Rank: job.Rank, Size: job.Size, Dir: job.Dir, Secret: job.Secret, Peers: peers,
		NoRings: os.Getenv("GORUN_SHM_RINGS") == "0"})
}

// placedTransport routes the ranks with our host index through the local
// transport and the others through NATS.
func placedTransport(job jobenv.Job) (comm.Transport, error) {
	const local, remote = 0, 1
	var peers [2][]int
	route := make([]int, job.Size)
	for r, h := range job.Placement {
		if r == job.Rank {
			continue
		}
		route[r] = remote
		if h == job.Placement[job.Rank] {
			route[r] = local
		}
		peers[route[r]] = append(peers[route[r]], r)
	}
	subs := make([]comm.Transport, 0, 2)
	for i, build := range []func(jobenv.Job, []int) (comm.Transport, error){newUnixTransport, newNATSTransport} {
		if len(peers[i]) == 0 {
			// No peer there: a stand-in that serves nobody keeps the
			// route's indices.
			subs = append(subs, nil)
			continue
		}
		t, err := build(job, peers[i])
		if err != nil {
			for _, s := range subs {
				if s != nil {
					s.Close()
				}
			}
			return nil, err
		}
		subs = append(subs, t)
	}
	return newPlacedComposite(job, subs, route)
}

// newPlacedComposite builds the composite of the sub-transports that exist.
func newPlacedComposite(job jobenv.Job, subs []comm.Transport, route []int) (comm.Transport, error) {
	var used []comm.Transport
	index := make([]int, len(subs))
	for i, s := range subs {
		index[i] = len(used)
		if s != nil {
			used = append(used, s)
		}
	}
	for r := range route {
		route[r] = index[route[r]]
	}
	c, err := comm.NewComposite(job.Rank, job.Size, used, route)
	if err != nil {
		for _, s := range used {
			s.Close()
		}
		return nil, err
	}
	return c, nil
}
