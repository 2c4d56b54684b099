// Package mpi is gorun's message-passing API: ranked processes that share
// nothing and cooperate by sending messages, point to point and collectively,
// in the manner of MPI and mpi4py.
//
// A program calls Init to join the job the gorun launcher started (run
// without gorun it is a world of size 1), uses the world communicator, and
// calls Finalize before it exits.
//
// # Usage
//
//	world, err := mpi.Init()
//	if err != nil { ... }
//	defer mpi.Finalize()
//	if world.Rank() == 0 {
//		err = world.Send([]float64{1, 2, 3}, 1, 0) // to rank 1, tag 0
//	} else if world.Rank() == 1 {
//		var v []float64
//		status, err := world.Recv(&v, 0, 0)
//		...
//	}
//	total, err := mpi.Allreduce(world, float64(world.Rank()), mpi.Sum)
//
// # Messages
//
// Any msgpack-encodable value can be sent; slices of fixed-size numbers
// ([]float64, []int32, []byte, ...) travel as raw little-endian bytes. A
// receive target is a pointer; when it cannot hold the message, Recv returns
// an error wrapping ErrTypeMismatch and the message is consumed. Messages from
// one sender on one communicator with one tag arrive in the order sent.
//
// Messages up to the eager limit (DefaultEagerLimit, 128 KiB; over NATS what
// fits one NATS message: 2 MiB less 128 bytes on gorun's own servers, 1 MiB
// less 128 bytes under NATS's default max_payload) are sent at once and
// buffered by the receiver; larger ones use a rendezvous: Send waits until
// the receiver has matched them. So two ranks that both Send a large message
// to each other before receiving deadlock, as in MPI; use Sendrecv, or
// Isend/Irecv. Over NATS, messages up to 2 MiB less 128 bytes behave as
// eager ones whatever the server's max_payload: under a smaller server a
// Send (not an Ssend, nor under WithSyncSends) above the eager limit pushes
// its body right after announcing it, with no round trip for the receiver's
// answer, and returns as an eager Send does; the body lands in the posted
// receive's buffer, or waits for a receive as an eager message does. An
// eager limit the user sets (WithEagerLimit, GORUN_EAGER_LIMIT) turns this
// off: larger messages then always wait for their receiver.
//
// A receive target that is a slice of numbers with room enough (its
// capacity) receives the message in its own memory, as MPI receives into
// the caller's buffer and encoding/json reuses a slice's capacity: a large
// body is read straight into it, a small one copied there out of the
// connection's buffers, so that a loop of receives into one slice allocates
// nothing. So a slice received into again must not be kept as an earlier
// message's contents; keep a copy (slices.Clone), or receive into a fresh
// variable each time.
//
// # Errors
//
// Calls return *Error values naming the rank, the call, the peer and the tag,
// wrapping sentinels such as ErrPeerLost, ErrTypeMismatch and ErrRank for
// errors.Is. Nothing panics on bad input.
//
// # Mismatched collectives
//
// Every rank of a communicator must call the same collectives in the same
// order, with the same root, element type and, for ReduceSlice,
// AllreduceSlice and AllreduceSliceInto, slice length. Ranks that do not
// fail with an error wrapping ErrCollectiveMismatch that names both calls:
//
//	mpi: rank 0 Barrier: collective mismatch: rank 0 called Barrier while rank 1 called Bcast(root 1)
//
// Each collective message carries its call's signature (24 bytes: the
// collective, root, element type, length where it must agree, and the
// call's number on the communicator), and shared-memory calls publish it in
// their headers; a rank compares what it receives with its own call. The
// rank that finds a mismatch tells the others, so no rank is left waiting,
// and a rank that has waited long in a collective (100 ms) tells the peer
// it waits for which call it is in, which finds ranks that all wait for
// each other (rank 0 in Reduce, rank 1 in Allreduce). A rank whose part of
// the call completed without hearing from the rank that differs (the root
// of a Bcast sends and returns, a Reduce leaf only sends) learns of it in
// its next collective call on the communicator, which fails; after a
// mismatch every collective call on the communicator fails (point-to-point
// calls still work), except after a difference of lengths in
// AllreduceSlice, which every rank finds in the call itself.
//
// Not detected: operators that differ between ranks (a function cannot be
// compared; only its element type is), values that differ, Gather,
// Allgather, Scatter and Alltoall parts of different lengths (which are
// legal), BcastInto buffers of different lengths (only the ranks whose
// buffer differs from the root's fail, with ErrLengthMismatch), and a rank whose process ends
// before the others hear from it, or that never makes another collective
// call on the communicator (it returns no error). Element types are
// compared by name: two types of the same name from different packages
// look alike.
package mpi
