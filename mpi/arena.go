package mpi

import (
	"fmt"
	"os"
	"strconv"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/shm"
	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// openArena maps the shared memory gorun hands every rank of a job on its
// local transport (the file descriptor in GORUN_SHM_FD) and lays the
// world's shared-memory region for the collectives over it. It returns
// nil, nil when gorun gave none (another transport, or a system without memfd): the collectives then
// use messages only, on every rank alike.
func openArena(e *engine, job jobenv.Job) (*shmcoll.Region, error) {
	text := os.Getenv(jobenv.Shm)
	if text == "" || jobenv.SpansHosts(job.Placement) {
		// A placement over several hosts: the arena assumes one host.
		return nil, nil
	}
	fd, err := strconv.Atoi(text)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q is not a file descriptor", jobenv.Shm, text)
	}
	want := shmcoll.Size(job.Size)
	region, err := shm.Map(os.NewFile(uintptr(fd), "gorun shared memory"), want)
	if err != nil {
		return nil, err
	}
	return shmcoll.New(region.Bytes(), job.Rank, job.Size, shmcoll.Hooks{
		Check:   e.worldAlive,
		Blocked: e.blockedInArena,
		Spin:    e.spin,
		Yield:   e.yield,
	})
}

// worldAlive reports why a collective waiting in shared memory cannot
// complete: a rank is gone, or this one finalized.
func (e *engine) worldAlive() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed != nil {
		return e.closed
	}
	for _, err := range e.gone {
		if err != nil {
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
// communicator itself (an optional ability of collectives.Conn). Other communicators, and
// calls bound to a Go context, use messages: the arena's progress counters
// are one sequence per job, and a wait in shared memory does not watch a
// context.
func (k *collConn) SharedMemory() *shmcoll.Region {
	if k.c.ctx != 0 || k.c.goctx != nil {
		return nil
	}
	return k.c.shared.world.arena
}
