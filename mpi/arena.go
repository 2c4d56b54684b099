package mpi

import (
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/shm"
	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// openArena maps the shared memory gorun hands the ranks of a job on each
// host (the file descriptor in GORUN_SHM_FD) and lays a shared-memory
// region for the collectives over it. In a job on one host the region's
// group is the world; in a job placed over several hosts
// (GORUN_PLACEMENT) it is this rank's host: its ranks, in world rank
// order, indexed from 0, and the hierarchical collectives run their phases
// on each host through it (hier.go). host reports which. It returns nil,
// nil when gorun gave none (another transport, or a system without memfd),
// or the host holds this rank alone: the collectives then use messages
// only, on every rank of the group alike.
func openArena(e *engine, job jobenv.Job) (region *shmcoll.Region, host bool, err error) {
	text := os.Getenv(jobenv.Shm)
	if text == "" {
		return nil, false, nil
	}
	fd, err := strconv.Atoi(text)
	if err != nil || fd < 3 {
		return nil, false, fmt.Errorf("%s=%q is not a file descriptor", jobenv.Shm, text)
	}
	file := os.NewFile(uintptr(fd), "gorun shared memory")
	rank, size := job.Rank, job.Size
	var names []int
	if host = jobenv.SpansHosts(job.Placement); host {
		names = jobenv.HostRanks(job.Placement, job.Rank)
		rank, size = slices.Index(names, job.Rank), len(names)
		if size < 2 {
			file.Close()
			return nil, true, nil
		}
	}
	mapped, err := shm.Map(file, shmcoll.Size(size))
	if err != nil {
		return nil, host, err
	}
	region, err = newRegion(e, mapped.Bytes(), rank, size, names)
	return region, host, err
}

// newRegion lays the region of rank, in a group of size ranks, over mem:
// the world's (names nil), or that of the host whose world ranks are names.
func newRegion(e *engine, mem []byte, rank, size int, names []int) (*shmcoll.Region, error) {
	check := e.worldAlive
	if names != nil {
		check = e.hostAlive(names)
	}
	return shmcoll.New(mem, rank, size, shmcoll.Hooks{
		Check:   check,
		Blocked: e.blockedInArena,
		Spin:    e.spin,
		Yield:   e.yield,
		Names:   names,
	})
}

// useHostMemory gives a world built over a transport (WithTransport) with
// a placement over several hosts the shared memory of rank's host, which
// memory returns (tests: withHostMemory), as gorun gives a job's ranks on
// each host theirs.
func (w *worldState) useHostMemory(memory func(host, bytes int) []byte, rank int) error {
	if !jobenv.SpansHosts(w.placement) {
		return nil
	}
	names := jobenv.HostRanks(w.placement, rank)
	if len(names) < 2 {
		return nil
	}
	region, err := newRegion(w.e, memory(w.placement[rank], shmcoll.Size(len(names))), slices.Index(names, rank), len(names), names)
	if err != nil {
		return err
	}
	w.hostArena = region
	return nil
}

// worldAlive reports why a collective waiting in shared memory cannot
// complete: a rank is gone, or this one finalized.
func (e *engine) worldAlive() error { return e.ranksAlive(nil) }

// hostAlive is worldAlive for the shared memory of one host's ranks (world
// ranks): only those ranks can hold a wait there back. A rank elsewhere
// that is lost fails the call where this host's ranks wait for it by
// messages (one of them, the host's representative), which breaks the
// call for the others; one that finished is no reason to fail.
func (e *engine) hostAlive(ranks []int) func() error {
	return func() error { return e.ranksAlive(ranks) }
}

// ranksAlive reports why a wait on ranks (nil: every rank) cannot
// complete: one of them is gone, or this rank finalized.
func (e *engine) ranksAlive(ranks []int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed != nil {
		return e.closed
	}
	if ranks == nil {
		for _, err := range e.gone {
			if err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range ranks {
		if err := e.gone[r]; err != nil {
			return err
		}
	}
	return nil
}

// blockedInArena reports this rank as blocked in a shared-memory
// collective, for gorun's deadlock detection; pending reads the counters
// the wait waits for.
func (e *engine) blockedInArena(op string, pending func() bool) (leave func()) {
	if e.blocked == nil {
		return func() {}
	}
	call := e.blocked.enter(func() control.Wait {
		return control.Wait{Call: op + " in shared memory", Op: op, Peer: control.AllPeers, Comm: 1}
	}, pending)
	return func() { e.blocked.leave(call) }
}

// SharedMemory lends the world's shared memory to collectives on the world
// communicator itself (an optional ability of collectives.Conn), in a job
// on one host (a job over several lends each host's to the phases on that
// host: hostMemory). Other communicators, and
// calls bound to a Go context, use messages: the arena's progress counters
// are one sequence per job, and a wait in shared memory does not watch a
// context.
func (k *collConn) SharedMemory() *shmcoll.Region {
	if k.c.ctx != 0 || k.c.goctx != nil {
		return nil
	}
	return k.c.shared.world.arena
}

// hostMemory is the shared memory of this rank's host in a job placed over
// several, for the phases of a hierarchical call on the world communicator
// among that host's ranks (members: communicator ranks, ascending), or nil:
// another communicator, a call with a Go context, or no memory.
func (k *collConn) hostMemory(members []int) *shmcoll.Region {
	if k.c.ctx != 0 || k.c.goctx != nil {
		return nil
	}
	region := k.c.shared.world.hostArena
	if region == nil || region.Size() != len(members) || region.Name(region.Rank()) != k.c.rank {
		return nil
	}
	return region
}
