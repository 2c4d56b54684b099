package ranks

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/natsserver"
)

// Network names accepted by Start.
const (
	InMemory = "inmem" // comm.NewNetwork: goroutines and queues, no system calls
	Unix     = "unix"  // comm.NewUnix: Unix sockets in a private 0700 directory, as gorun's local transport
	NATS     = "nats"  // comm.NewNATS: through a NATS server embedded in this process, on loopback
	// Composite: each rank a comm.NewComposite of two in-memory networks,
	// its peers of the same parity (pretend host r%2) through one and the
	// others through the other: the twin of a placement.
	Composite = "inmem+inmem"
	// Placed: each rank a composite as gorun builds for a placement over two
	// hosts: peers of the same parity through Unix sockets, the others
	// through NATS.
	Placed = "unix+nats"
)

// NetworkEnv names the environment variable that chooses DefaultNetwork:
// GORUN_MPITEST_NETWORK=unix go test ./mpi/... runs every test that does
// not choose its network over Unix sockets.
const NetworkEnv = "GORUN_MPITEST_NETWORK"

// DefaultNetwork is the network of jobs that do not choose one: the value
// of NetworkEnv, or InMemory.
func DefaultNetwork() string {
	if n := os.Getenv(NetworkEnv); n != "" {
		return n
	}
	return InMemory
}

// Networks lists every network Start accepts, InMemory first.
func Networks() []string { return []string{InMemory, Unix, NATS, Composite, Placed} }

// ErrNetwork is returned by Start for a network it does not know.
var ErrNetwork = errors.New("ranks: unknown network")

// Job is n connected transports, one per rank, and what they need while
// they run (a socket directory, an embedded NATS server) until Close.
type Job struct {
	// Transports holds rank r's transport at index r; none is started.
	Transports []comm.Transport
	cleanup    []func()
}

// Start makes the n transports of one job over network.
func Start(network string, n int) (*Job, error) {
	if n < 1 {
		return nil, fmt.Errorf("ranks: %d ranks: want 1 or more", n)
	}
	j := &Job{}
	var err error
	switch network {
	case InMemory, "":
		net := comm.NewNetwork(n)
		for r := range n {
			j.Transports = append(j.Transports, net.Transport(r))
		}
	case Unix:
		err = j.startUnix(n)
	case NATS:
		err = j.startNATS(n)
	case Composite:
		nets := [2]*comm.Network{comm.NewNetwork(n), comm.NewNetwork(n)}
		err = j.compose(n, func(side, r int, _ []int) (comm.Transport, error) { return nets[side].Transport(r), nil })
	case Placed:
		err = j.startPlaced(n)
	default:
		return nil, fmt.Errorf("%w %q (want one of %s)", ErrNetwork, network, strings.Join(Networks(), ", "))
	}
	if err != nil {
		j.Close()
		return nil, fmt.Errorf("ranks: %s network of %d ranks: %w", network, n, err)
	}
	return j, nil
}

func (j *Job) startUnix(n int) error {
	unix, err := j.unixNetwork()
	if err != nil {
		return err
	}
	for r := range n {
		tr, err := unix(r, n, nil)
		if err != nil {
			return err
		}
		j.Transports = append(j.Transports, tr)
	}
	return nil
}

// unixNetwork makes the job's socket directory and returns the maker of
// its Unix transports, each serving peers (nil: every rank).
func (j *Job) unixNetwork() (func(rank, n int, peers []int) (comm.Transport, error), error) {
	dir, err := os.MkdirTemp("", "gorun-ranks-")
	if err != nil {
		return nil, err
	}
	j.cleanup = append(j.cleanup, func() { os.RemoveAll(dir) })
	secret := randomSecret()
	return func(rank, n int, peers []int) (comm.Transport, error) {
		return comm.NewUnix(comm.UnixConfig{Rank: rank, Size: n, Dir: dir, Secret: secret, Peers: peers})
	}, nil
}

// startPlaced makes composites of Unix (peers of the same parity) and NATS
// (the others).
func (j *Job) startPlaced(n int) error {
	unix, err := j.unixNetwork()
	if err != nil {
		return err
	}
	nats, err := j.natsNetwork()
	if err != nil {
		return err
	}
	return j.compose(n, func(side, r int, peers []int) (comm.Transport, error) {
		if side == 0 {
			return unix(r, n, peers)
		}
		return nats(r, n, peers)
	})
}

// compose makes each rank's composite of two sub-transports from sub:
// side 0 serves the peers of the rank's parity, side 1 the others. A rank
// with no peer on a side has no sub-transport there.
func (j *Job) compose(n int, sub func(side, rank int, peers []int) (comm.Transport, error)) error {
	for r := range n {
		var peers [2][]int
		route := make([]int, n)
		for q := range n {
			if q == r {
				continue
			}
			side := 0
			if q%2 != r%2 {
				side = 1
			}
			peers[side] = append(peers[side], q)
		}
		var subs []comm.Transport
		for side := range 2 {
			if len(peers[side]) == 0 {
				continue
			}
			tr, err := sub(side, r, peers[side])
			if err != nil {
				closeAll(subs)
				return err
			}
			for _, q := range peers[side] {
				route[q] = len(subs)
			}
			subs = append(subs, tr)
		}
		if len(subs) == 0 { // a job of one rank: side 0 serves no one
			tr, err := sub(0, r, nil)
			if err != nil {
				return err
			}
			j.Transports = append(j.Transports, tr)
			continue
		}
		c, err := comm.NewComposite(r, n, subs, route)
		if err != nil {
			closeAll(subs)
			return err
		}
		j.Transports = append(j.Transports, c)
	}
	return nil
}

func closeAll(ts []comm.Transport) {
	for _, t := range ts {
		t.Close()
	}
}

func (j *Job) startNATS(n int) error {
	nats, err := j.natsNetwork()
	if err != nil {
		return err
	}
	for r := range n {
		tr, err := nats(r, n, nil)
		if err != nil {
			return err
		}
		j.Transports = append(j.Transports, tr)
	}
	return nil
}

// natsNetwork starts the job's NATS server and returns the maker of its
// NATS transports, each serving peers (nil: every rank).
func (j *Job) natsNetwork() (func(rank, n int, peers []int) (comm.Transport, error), error) {
	jobID, secret := randomSecret()[:16], randomSecret()
	user := natsserver.NewUser(comm.NATSPrefix(jobID, secret))
	srv, err := natsserver.Start(natsserver.Config{Users: []natsserver.User{user}})
	if err != nil {
		return nil, err
	}
	j.cleanup = append(j.cleanup, srv.Shutdown)
	return func(rank, n int, peers []int) (comm.Transport, error) {
		// No rank is judged by its silence (PeerTimeout -1), as under
		// gorun: ranks in one process do not die alone, they finalize,
		// and a loaded machine can hold a live peer's messages back.
		return comm.NewNATS(comm.NATSConfig{Rank: rank, Size: n, JobID: jobID, Secret: secret,
			URL: srv.URL(user), PeerTimeout: -1, Peers: peers})
	}, nil
}

// Close closes every transport (a transport a world has closed already is
// left as it is) and removes what the job needed: the socket directory,
// the NATS server.
func (j *Job) Close() {
	// All at once: a transport's Close may say goodbye to the others, and
	// one that never started would keep it waiting.
	var wg sync.WaitGroup
	for _, tr := range j.Transports {
		wg.Go(func() { tr.Close() })
	}
	wg.Wait()
	for i := len(j.cleanup) - 1; i >= 0; i-- {
		j.cleanup[i]()
	}
	j.cleanup = nil
}
