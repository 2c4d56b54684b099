// Package mpitest runs the ranks of an MPI program inside one test process,
// as net/http/httptest runs a server inside a test: each rank is a
// goroutine with its own world communicator, connected to the others over
// the in-memory transport (the default), real Unix sockets, NATS through a
// server embedded in the test process, or a composite of two transports
// (Composite, Placed). Loop over Networks to run a test on each; the
// environment variable GORUN_MPITEST_NETWORK changes the default. One
// difference from a job under gorun remains: the ranks share no memory, so
// the collectives always go by messages (gorun's local transport gives the
// world communicator's AllreduceSlice, Bcast and Barrier shared memory).
//
// Every rank's failure fails the test and names the rank; a rank that
// panics is reported with its stack, and its world is finalized so that
// the ranks waiting for it fail instead of hanging; a rank still running
// after the job's time (Timeout, by default DefaultTimeout or less when the
// test's own deadline is nearer) is ended and reported with the mpi call
// it was blocked in and where that call was made.
//
// # Usage
//
//	func TestRing(t *testing.T) {
//		mpitest.Run(t, 4, func(t testing.TB, world *mpi.Comm) {
//			right := (world.Rank() + 1) % world.Size()
//			left := (world.Rank() + world.Size() - 1) % world.Size()
//			var got int
//			if _, err := world.Sendrecv(world.Rank(), right, 0, &got, left, 0); err != nil {
//				t.Fatal(err) // fails the test as "rank 2: ...", and ends this rank
//			}
//			if got != left {
//				t.Errorf("got %d from the left, want %d", got, left)
//			}
//		}, mpitest.Transport(mpitest.Unix))
//	}
//
// Do does the same without a testing.TB (for Examples and tools): each
// rank's body returns an error, and Do returns them joined, each naming its
// rank.
//
// The worlds are made with mpi.Init(mpi.WithTransport(...)), so they are
// not the process's world (mpi.Finalize, the package function, does not end
// them): each is finalized when its rank's body returns. Pass further
// mpi.Init options with InitOptions.
package mpitest
