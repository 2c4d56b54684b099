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
// Messages up to the eager limit (DefaultEagerLimit, 64 KiB; 256 KiB over
// NATS) are sent at once and buffered by the receiver; larger ones use a
// rendezvous: Send waits until the receiver has matched them. So two ranks that both Send a large message
// to each other before receiving deadlock, as in MPI; use Sendrecv, or
// Isend/Irecv.
//
// # Errors
//
// Calls return *Error values naming the rank, the call, the peer and the tag,
// wrapping sentinels such as ErrPeerLost, ErrTypeMismatch and ErrRank for
// errors.Is. Nothing panics on bad input.
package mpi
