package mpi_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/mpi"
	"github.com/gorun-mpi/gorun/mpi/mpitest"
)

// TestFinalizeOfSubCommunicatorFreesOnlyIt: Finalize on a communicator
// from Split or Dup frees that communicator (its calls then fail with
// ErrFinalized, a receive pending on it fails at once), while the world
// and the other communicators go on working, on every network.
func TestFinalizeOfSubCommunicatorFreesOnlyIt(t *testing.T) {
	for _, network := range mpitest.Networks() {
		t.Run(string(network), func(t *testing.T) {
			mpitest.Run(t, 4, testFreeSubCommunicator, mpitest.Transport(network))
		})
	}
}

func testFreeSubCommunicator(t testing.TB, world *mpi.Comm) {
	me := world.Rank()
	half, err := world.Split(me%2, me)
	if err != nil {
		t.Fatal(err)
	}
	dup, err := world.Dup()
	if err != nil {
		t.Fatal(err)
	}
	// A receive pending on dup when dup is freed fails at once.
	pending := dup.Irecv(new(int), (me+1)%world.Size(), 3)
	if err := half.Finalize(); err != nil {
		t.Fatalf("Finalize of a Split communicator: %v", err)
	}
	if err := dup.Finalize(); err != nil {
		t.Fatalf("Finalize of a Dup communicator: %v", err)
	}
	if err := dup.Finalize(); err != nil {
		t.Fatalf("second Finalize of a Dup communicator: %v", err)
	}
	if _, err := pending.Wait(); !errors.Is(err, mpi.ErrFinalized) {
		t.Errorf("receive pending on a freed communicator: %v, want ErrFinalized", err)
	}
	// Calls on the freed communicators fail, and say which was freed.
	for name, err := range map[string]error{
		"Send":    half.Send(1, 0, 0),
		"Barrier": half.Barrier(),
		"Recv":    func() error { _, err := dup.Recv(new(int), 0, 0); return err }(),
		"Split":   func() error { _, err := dup.Split(0, 0); return err }(),
	} {
		if !errors.Is(err, mpi.ErrFinalized) || !strings.Contains(err.Error(), "of this communicator, made by Split or Dup") {
			t.Errorf("%s on a freed communicator: %v, want ErrFinalized naming the communicator", name, err)
		}
	}
	// The world goes on: point to point and collectives.
	var got int
	if _, err := world.Sendrecv(me, (me+1)%4, 1, &got, (me+3)%4, 1); err != nil || got != (me+3)%4 {
		t.Fatalf("Sendrecv on the world after freeing others: %d %v", got, err)
	}
	sum, err := mpi.Allreduce(world, me, mpi.Sum)
	if err != nil || sum != 6 {
		t.Fatalf("Allreduce on the world after freeing others: %d %v", sum, err)
	}
	// A communicator made after the free works too.
	again, err := world.Dup()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := mpi.Allreduce(again, 1, mpi.Sum); err != nil || n != 4 {
		t.Fatalf("Allreduce on a new Dup: %d %v", n, err)
	}
}
