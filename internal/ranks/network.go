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
func Networks() []string { return []string{InMemory, Unix, NATS} }

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
	dir, err := os.MkdirTemp("", "gorun-ranks-")
	if err != nil {
		return err
	}
	j.cleanup = append(j.cleanup, func() { os.RemoveAll(dir) })
	secret := randomSecret()
	for r := range n {
		tr, err := comm.NewUnix(comm.UnixConfig{Rank: r, Size: n, Dir: dir, Secret: secret})
		if err != nil {
			return err
		}
		j.Transports = append(j.Transports, tr)
	}
	return nil
}

func (j *Job) startNATS(n int) error {
	jobID, secret := randomSecret()[:16], randomSecret()
	user := natsserver.NewUser(comm.NATSPrefix(jobID, secret))
	srv, err := natsserver.Start(natsserver.Config{Users: []natsserver.User{user}})
	if err != nil {
		return err
	}
	j.cleanup = append(j.cleanup, srv.Shutdown)
	for r := range n {
		// No rank is judged by its silence (PeerTimeout -1), as under
		// gorun: ranks in one process do not die alone, they finalize,
		// and a loaded machine can hold a live peer's messages back.
		tr, err := comm.NewNATS(comm.NATSConfig{Rank: r, Size: n, JobID: jobID, Secret: secret,
			URL: srv.URL(user), PeerTimeout: -1})
		if err != nil {
			return err
		}
		j.Transports = append(j.Transports, tr)
	}
	return nil
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
