package mpitest

import (
	"time"

	"github.com/gorun-mpi/gorun/internal/ranks"
	"github.com/gorun-mpi/gorun/mpi"
)

// Network is the network that connects the ranks of a job.
type Network string

// The networks a job can run over.
const (
	// InMemory connects the ranks through queues in memory (comm.NewNetwork):
	// the fastest, and the default.
	InMemory Network = ranks.InMemory
	// Unix connects them through Unix sockets in a private temporary
	// directory, as gorun's local transport does between processes.
	Unix Network = ranks.Unix
	// NATS connects them through a NATS server started in the test process
	// on a loopback port, as gorun --transport nats does.
	NATS Network = ranks.NATS
	// Composite gives each rank a composite transport (comm.NewComposite)
	// of two in-memory networks: its peers of the same parity (a pretend
	// host, rank%2) through one, the others through the other.
	Composite Network = ranks.Composite
	// Placed gives each rank the composite gorun builds for a job placed
	// on two hosts: peers of the same parity through Unix sockets, the
	// others through NATS.
	Placed Network = ranks.Placed
)

// Networks lists every network, InMemory first: loop over it to run a test
// on each.
func Networks() []Network {
	var out []Network
	for _, n := range ranks.Networks() {
		out = append(out, Network(n))
	}
	return out
}

// DefaultTimeout is how long the ranks of one Run or Do may take unless
// Timeout says otherwise.
const DefaultTimeout = 2 * time.Minute

// Option configures Run and Do.
type Option func(*config)

type config struct {
	network Network
	timeout time.Duration
	init    []mpi.Option
}

// NetworkEnv is the environment variable that sets the default network:
// GORUN_MPITEST_NETWORK=unix go test ./... runs every test that does not
// choose its network over Unix sockets.
const NetworkEnv = ranks.NetworkEnv

// Transport runs the ranks over network (default InMemory, or the network
// NetworkEnv names).
func Transport(network Network) Option {
	return func(c *config) { c.network = network }
}

// Timeout bounds how long the ranks may run (default DefaultTimeout; Run
// also stays within the test's deadline). Ranks still running then are
// ended (their worlds finalized, so their blocked calls fail) and reported
// with the call each was blocked in.
func Timeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// InitOptions passes opts to every rank's mpi.Init, after the transport.
func InitOptions(opts ...mpi.Option) Option {
	return func(c *config) { c.init = append(c.init, opts...) }
}

func configure(opts []Option) config {
	cfg := config{network: Network(ranks.DefaultNetwork()), timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&cfg)
	}
	return cfg
}
