package mpi

import (
	"time"

	"github.com/gorun-mpi/gorun/comm"
)

// DefaultEagerLimit is the largest message (in payload bytes: the data and
// the few bytes that describe its type) that Send delivers eagerly on the
// local transport, returning before the receive is posted. Larger messages
// use the rendezvous protocol: Send waits until the receiver has matched
// them, so the receiver never buffers large unexpected messages. It is
// the largest record of the local transport's shared-memory rings
// (comm.DefaultRingSize), through which an eager message up to that size
// goes faster than a rendezvous, whose body is copied once, straight out
// of the sender's memory, but after a round trip and a system call (one
// way on a 2-core AMD EPYC VM: 64 KiB 6.9 us eagerly against 16.8 us by
// rendezvous; Open MPI's shared memory 13-16 us). A transport may
// prefer another limit per destination (comm.EagerLimiter; NATS, where a
// rendezvous costs a round trip through the server, uses the largest frame
// that fits one NATS message (comm.DefaultNATSEagerLimit under NATS's
// default max_payload, more under gorun's own servers), and with a placement over several hosts that
// limit applies to the ranks reached through NATS only). Change it with
// WithEagerLimit or the GORUN_EAGER_LIMIT environment variable (bytes),
// which override the transport's preference for every destination.
const DefaultEagerLimit = 128 << 10

// DefaultSpin is how long a blocking call polls the transport before it
// sleeps, trading a little CPU for latency as MPI libraries do.
const DefaultSpin = 50 * time.Microsecond

// DefaultYieldSpin is the polling time when ranks outnumber cores (gorun
// then sets GORUN_YIELD=1): the rank gives its core away between polls
// (sched_yield), as Open MPI does when oversubscribed, so a peer that has
// work runs at once, and it polls longer because polling then costs the
// others little.
const DefaultYieldSpin = 500 * time.Microsecond

// Option configures Init.
type Option func(*config)

type config struct {
	transport  comm.Transport
	placement  []int // host index per world rank (GORUN_PLACEMENT; tests: withPlacement)
	eagerLimit int
	eagerSet   bool // set by the user: the transport's preference does not apply
	spin       time.Duration
	spinSet    bool
	yield      bool          // give the core away between polls
	noPull     bool          // never copy bodies out of peers' memory (GORUN_SINGLE_COPY=0)
	copyDelay  time.Duration // tests only: every body copy takes this much longer
	syncSends  bool          // every user send waits for its match (gorun --sync-sends)
	// hostMemory, tests only (withHostMemory): the shared memory of each
	// host of placement, for a world over a transport.
	hostMemory func(host, bytes int) []byte
}

// WithTransport makes Init build a world over t instead of joining the job
// gorun started. The world is not the process's world: Finalize it with
// its Finalize method. Package mpi/mpitest uses it to run several ranks of
// a test in one process (over comm.NewNetwork, Unix sockets or NATS).
func WithTransport(t comm.Transport) Option {
	return func(c *config) { c.transport = t }
}

// WithEagerLimit sets the eager/rendezvous threshold in bytes (see
// DefaultEagerLimit). A negative limit sends every message by rendezvous.
func WithEagerLimit(bytes int) Option {
	return func(c *config) { c.eagerLimit, c.eagerSet = bytes, true }
}

// WithSpin sets how long a blocking call polls before it sleeps; 0 disables
// polling.
func WithSpin(d time.Duration) Option {
	return func(c *config) { c.spin, c.spinSet = d, true }
}

// WithSyncSends makes every Send, Isend and Sendrecv of the world wait for
// its receive to match, as Ssend does, whatever the message's size: a
// program that works only because small messages are buffered then
// deadlocks every time, and gorun says where. gorun --sync-sends sets it
// for every rank (GORUN_SYNC_SENDS=1). Collectives are not affected.
func WithSyncSends() Option {
	return func(c *config) { c.syncSends = true }
}
