package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/gorun-mpi/gorun/mpi"
)

func init() {
	register("dup", 2, dup)
	register("cmsplit", 4, cmsplit)
	register("ctxsplit", 1, ctxsplit)
	register("ctxalloc", 2, ctxalloc)
}

// dup ports comm/dup.c: a Dup has the world's size and ranks, and the
// first and last ranks can Sendrecv on it. The port adds what a Dup is
// for: a message on the world does not match a receive on the Dup with
// the same source and tag.
func dup(world *mpi.Comm) error {
	c, err := world.Dup()
	if err != nil {
		return err
	}
	me, n := c.Rank(), c.Size()
	if n != world.Size() || me != world.Rank() {
		return fmt.Errorf("dup: rank %d of %d, world rank %d of %d", me, n, world.Rank(), world.Size())
	}
	peer := -1
	switch me {
	case 0:
		peer = n - 1
	case n - 1:
		peer = 0
	}
	if peer < 0 {
		return nil
	}
	worldMsg := world.Isend("on the world", peer, 0) // a Send could wait for the peer's Recv below
	var b int
	st, err := c.Sendrecv(me, peer, 0, &b, peer, 0)
	if err != nil {
		return err
	}
	if b != peer || st.Source != peer {
		return fmt.Errorf("sendrecv on the Dup: got %d from %d, want %d", b, st.Source, peer)
	}
	var s string
	if _, err := world.Recv(&s, peer, 0); err != nil || s != "on the world" {
		return fmt.Errorf("world message: %q %v", s, err)
	}
	_, err = worldMsg.Wait()
	return err
}

// cmsplit ports comm/cmsplit.c: Split of a Dup with color 1 on ranks 0
// and 1 (key size-rank: the order reverses) and Undefined elsewhere, which
// gets no communicator.
func cmsplit(world *mpi.Comm) error {
	c, err := world.Dup()
	if err != nil {
		return err
	}
	me, n := c.Rank(), c.Size()
	color := mpi.Undefined
	if me < 2 {
		color = 1
	}
	s, err := c.Split(color, n-me)
	if err != nil {
		return err
	}
	if me >= 2 {
		return check(s == nil, "Split with Undefined returned a communicator")
	}
	if s == nil || s.Size() != 2 || s.Rank() != 1-me {
		return fmt.Errorf("split: %v", s)
	}
	return nil
}

// ctxsplit ports comm/ctxsplit.c, which looks for leaked context ids:
// many Splits of the world, each rank choosing at random between color 1
// and Undefined (MPICH: 100000 with Comm_free; gorun has no Free, so 1000
// communicators stay alive, each used once).
func ctxsplit(world *mpi.Comm) error {
	me := world.Rank()
	r := rand.New(rand.NewPCG(uint64(me), 1))
	for i := 0; i < 1000; i++ {
		color := mpi.Undefined
		if r.IntN(me+2) == 0 {
			color = 1
		}
		s, err := world.Split(color, me)
		if err != nil {
			return fmt.Errorf("split %d: %w", i, err)
		}
		if color == mpi.Undefined {
			if s != nil {
				return fmt.Errorf("split %d: a communicator with Undefined", i)
			}
			continue
		}
		if s == nil {
			return fmt.Errorf("split %d: no communicator with color 1", i)
		}
		if _, err := mpi.Allreduce(s, 1, mpi.Sum[int]); err != nil {
			return fmt.Errorf("split %d: %w", i, err)
		}
	}
	return nil
}

// ctxalloc ports the idea of comm/ctxalloc.c: many communicators alive at
// once (here 500 Dups), each carrying its own message between two ranks,
// received in reverse order of creation: no message crosses into another
// communicator.
func ctxalloc(world *mpi.Comm) error {
	const count = 500
	comms := make([]*mpi.Comm, count)
	for i := range comms {
		var err error
		if comms[i], err = world.Dup(); err != nil {
			return fmt.Errorf("dup %d: %w", i, err)
		}
	}
	switch world.Rank() {
	case 0:
		reqs := make([]*mpi.Request, count)
		for i, c := range comms {
			reqs[i] = c.Isend(i, 1, 0) // received in reverse order: a Send could wait forever
		}
		if err := mpi.WaitAll(reqs...); err != nil {
			return err
		}
	case 1:
		for i := count - 1; i >= 0; i-- {
			var v int
			if _, err := comms[i].Recv(&v, 0, mpi.AnyTag); err != nil || v != i {
				return fmt.Errorf("communicator %d got %d (%v)", i, v, err)
			}
		}
	}
	return world.Barrier()
}
