package mpi

import (
	"fmt"

	"github.com/gorun-mpi/gorun/collectives"
)

// The forms of Gather, Allgather, Alltoall, Scatter and ReduceSlice that
// write into the caller's buffer, as MPI's calls do: one block of equal
// length per rank, laid one after the other in rank order. A loop of them
// allocates nothing through shared memory.

// GatherInto copies every rank's part, in rank order, into out on root, as
// MPI_Gather: out must have Size*len(part) elements there and is not read
// elsewhere. Every rank's part must have the same length: otherwise the
// ranks that compare them get an error wrapping ErrCollectiveMismatch and
// ErrLengthMismatch. A root whose out has another length gets an error
// wrapping ErrLengthMismatch once every rank has sent its part (no rank
// waits for it). On the world communicator of a job on gorun's local
// transport, slices of numbers go through shared memory (each rank copies
// its part in, the root copies every part out; every rank then learns of
// the root's error too); elsewhere they go as Gather sends them.
func GatherInto[T any](c *Comm, part, out []T, root int) error {
	_, err := collective(c, "GatherInto", func(conn collectives.Conn) (struct{}, error) {
		k, h := hierFor(conn, true, true)
		if h == nil || root < 0 || root >= conn.Size() {
			return struct{}{}, collectives.GatherInto(conn, sliceCodec[T](), part, out, root)
		}
		joined, err := hierGather(conn, sliceCodec[T](), part, root)
		if err != nil || k.c.rank != root {
			return struct{}{}, err
		}
		return struct{}{}, copyJoined("GatherInto", out, joined, conn.Size(), len(part))
	})
	return err
}

// AllgatherInto copies every rank's part, in rank order, into out on every
// rank, as MPI_Allgather: out must have Size*len(part) elements and every
// part the same length (otherwise an error wrapping ErrLengthMismatch, on
// every rank that can tell). It goes through shared memory where
// GatherInto does.
func AllgatherInto[T any](c *Comm, part, out []T) error {
	_, err := collective(c, "AllgatherInto", func(conn collectives.Conn) (struct{}, error) {
		_, h := hierFor(conn, true, true)
		if h == nil {
			return struct{}{}, collectives.AllgatherInto(conn, sliceCodec[T](), part, out)
		}
		joined, err := hierAllgather(conn, sliceCodec[T](), part)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, copyJoined("AllgatherInto", out, joined, conn.Size(), len(part))
	})
	return err
}

// AlltoallInto sends block j of send to rank j and writes the block rank i
// sent here at block i of recv, as MPI_Alltoall: send holds Size blocks of
// equal length one after the other, recv has send's length, and every rank
// uses blocks of the same length. A rank whose send is not Size equal
// blocks, or whose recv has another length, makes every rank fail with an
// error wrapping ErrLengthMismatch; blocks of different lengths on
// different ranks give ErrCollectiveMismatch and ErrLengthMismatch. On the
// world communicator of a job on gorun's local transport, slices of
// numbers go through shared memory (each rank copies its blocks in, in
// rounds when they exceed its share of it, and every rank copies its
// blocks out); elsewhere by pairwise exchange, as Alltoall.
func AlltoallInto[T any](c *Comm, send, recv []T) error {
	_, err := collective(c, "AlltoallInto", func(conn collectives.Conn) (struct{}, error) {
		return struct{}{}, collectives.AlltoallInto(conn, sliceCodec[T](), send, recv)
	})
	return err
}

// ScatterInto copies block i of root's data into out on rank i, as
// MPI_Scatter: data (read on the root only) holds Size blocks of len(out)
// elements one after the other. A root whose data has another length makes
// every rank fail with an error wrapping ErrLengthMismatch; a rank whose
// out has another length than the root's blocks fails with one. It goes by
// Scatter's messages.
func ScatterInto[T any](c *Comm, data, out []T, root int) error {
	_, err := collective(c, "ScatterInto", func(conn collectives.Conn) (struct{}, error) {
		return struct{}{}, collectives.ScatterInto(conn, sliceCodec[T](), data, out, root)
	})
	return err
}

// ReduceSliceInto is ReduceSlice writing the result into out on root (out
// is not used elsewhere), as MPI_Reduce writes into the root's receive
// buffer. out must have len(v) elements on root: otherwise the root gets
// an error wrapping ErrLengthMismatch, once it has taken its part in the
// reduction. It moves data as ReduceSlice does (a binomial tree of
// messages); the saving is the root's result slice.
func ReduceSliceInto[T any](c *Comm, v, out []T, op func(a, b T) T, root int) error {
	_, err := collective(c, "ReduceSliceInto", func(conn collectives.Conn) (struct{}, error) {
		res, err := hierReduceSlice(conn, sliceCodec[T](), v, opOf(op), root)
		if err != nil || conn.Rank() != root {
			return struct{}{}, err
		}
		if len(out) != len(res) {
			return struct{}{}, fmt.Errorf("%w: ReduceSliceInto: out has %d elements, the result %d",
				collectives.ErrLengthMismatch, len(out), len(res))
		}
		copy(out, res)
		return struct{}{}, nil
	})
	return err
}

// copyJoined copies a hierarchical gather's joined result into out, which
// must hold size parts of n elements.
func copyJoined[T any](call string, out, joined []T, size, n int) error {
	if len(out) != size*n {
		return fmt.Errorf("%w: %s: out has %d elements, want %d (%d ranks of %d elements)",
			collectives.ErrLengthMismatch, call, len(out), size*n, size, n)
	}
	if len(joined) != len(out) {
		return fmt.Errorf("%w: %s: the ranks' parts add up to %d elements, want %d (%d ranks of %d elements)",
			collectives.ErrLengthMismatch, call, len(joined), len(out), size, n)
	}
	copy(out, joined)
	return nil
}
