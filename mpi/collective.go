package mpi

import (
	"errors"

	"github.com/gorun-mpi/gorun/collectives"
)

// collective runs one collective call named op on c with body, wrapping its
// error as *Error. A mismatch breaks c's collectives (see collwatch.go),
// except a difference of lengths in AllreduceSlice, which every rank finds
// in the call itself.
func collective[R any](c *Comm, op string, body func(conn collectives.Conn) (R, error)) (_ R, err error) {
	sp := c.traceBegin(op)
	defer sp.endErr(&err)
	var zero R
	k, err := c.collConn(op)
	if err != nil {
		return zero, err
	}
	out, err := body(k)
	if err != nil {
		if errors.Is(err, collectives.ErrCollectiveMismatch) &&
			!(k.sig().Kind == collectives.KindAllreduceSlice && errors.Is(err, collectives.ErrLengthMismatch)) {
			c.breakColl(mismatchCause(err))
		}
		return zero, c.wrapErr(op, noPeer, noTag, err)
	}
	// Only on success: a failed call may have left a goroutine with k
	// (a receive being cancelled), and failures are not the loop to save.
	c.releaseConn(k)
	return out, nil
}

// mismatchCause is the mismatch inside err, without the call that met it.
func mismatchCause(err error) error {
	var mpiErr *Error
	if errors.As(err, &mpiErr) {
		return mpiErr.Err
	}
	return err
}

func opOf[T any](fn func(a, b T) T) collectives.Op[T] {
	loops, name := loopsAndName(fn)
	return collectives.Op[T]{Fn: fn, Commutative: name != "", Kernel: loops.kernel, Fold: loops.fold}
}

// Bcast returns root's v on every rank (v is ignored elsewhere). On the
// world communicator of a job on gorun's local transport the root copies
// the encoded value into shared memory and the others copy it out; otherwise
// (and for values larger than the root's share of that memory) small values
// go down a binomial tree. A slice of fixed-size numbers travels as its raw
// bytes.
//
// Every rank but the root gets a new value each call, which it may keep:
// in a loop, use BcastInto a buffer you keep. A large new slice costs what
// new memory costs Go, whatever gorun does: gorun copies into it as the
// root posts each piece (with stores that bypass the caches), does not
// clear it first, and maps its missing pages in one system call, but
// while a program's heap still grows (its first calls) the kernel must
// hand each of those pages out, and once it has stopped growing the slice
// is memory the caches have not seen (8 MiB of float64 at np=4 on 2
// cores, means of 20 back-to-back calls after 10 warm-up calls, bench/ops
// in BENCHMARKS.md's run of 2026-11-30 22:37: Bcast 1.85 ms, BcastInto
// 1.51, MPI_Bcast 1.96).
func Bcast[T any](c *Comm, v T, root int) (T, error) {
	return collective(c, "Bcast", func(conn collectives.Conn) (T, error) {
		return hierBcast(conn, valueCodecFor[T](), v, root)
	})
}

// BcastInto copies root's buf into buf on every other rank, as MPI_Bcast
// fills the caller's buffer (mpi4py's Comm.Bcast): a loop of broadcasts
// then allocates nothing. Every rank's buf must have the root's length; a
// rank whose buf has another gets an error wrapping ErrLengthMismatch (the
// root cannot tell, and returns nil). On the world communicator of a job on
// gorun's local transport, a large slice of numbers goes through shared
// memory in pieces, the others copying out one piece while the root copies
// in the next; elsewhere it travels as Bcast sends it and is copied into buf.
func BcastInto[T any](c *Comm, buf []T, root int) error {
	_, err := collective(c, "BcastInto", func(conn collectives.Conn) (struct{}, error) {
		return struct{}{}, collectives.BcastInto(conn, sliceCodec[T](), buf, root)
	})
	return err
}

// Scatter cuts root's data into Size contiguous parts whose lengths differ
// by at most one, the longer parts first, and returns part i on rank i
// (data is ignored off the root). The result never aliases data. With
// parts of equal length, ScatterInto a buffer you keep saves the result's
// allocation.
func Scatter[T any](c *Comm, data []T, root int) ([]T, error) {
	return collective(c, "Scatter", func(conn collectives.Conn) ([]T, error) {
		var parts [][]T
		if conn.Rank() == root {
			p := conn.Size()
			parts = make([][]T, p)
			for i := range parts {
				lo, hi := collectives.PartBounds(len(data), p, i)
				parts[i] = data[lo:hi:hi]
			}
		}
		part, err := collectives.Scatter(conn, sliceCodec[T](), parts, root)
		if err != nil {
			return nil, err
		}
		if conn.Rank() == root {
			part = append(make([]T, 0, len(part)), part...)
		}
		return part, nil
	})
}

// Gather returns, on root, every rank's part joined in rank order; the
// other ranks get nil. Parts may differ in length (so lengths are not
// compared between ranks; the collective, root and element type are, see
// ErrCollectiveMismatch). On the world communicator of a job on gorun's
// local transport, slices of numbers go through shared memory. The result
// is a new slice each call, which the caller may keep: in a loop of large
// gathers, use GatherInto a buffer you keep, which saves Go that
// allocation and the garbage collection it brings (float64 at np=4 on 2
// cores, means of back-to-back calls, bench/ops, three runs: 1 MiB parts,
// Gather 0.74-0.94 ms, GatherInto 0.60-0.69 ms; 8 MiB, 12.5-22.4 and
// 3.5-4.0 ms).
func Gather[T any](c *Comm, part []T, root int) ([]T, error) {
	return collective(c, "Gather", func(conn collectives.Conn) ([]T, error) {
		return hierGather(conn, sliceCodec[T](), part, root)
	})
}

// Allgather returns, on every rank, every rank's part joined in rank order.
// Parts may differ in length (they are not compared between ranks). On the
// world communicator of a job on gorun's local transport, slices of
// numbers go through shared memory. The result is a new slice each call,
// which the caller may keep: in a loop, use AllgatherInto a buffer you
// keep.
func Allgather[T any](c *Comm, part []T) ([]T, error) {
	return collective(c, "Allgather", func(conn collectives.Conn) ([]T, error) {
		return hierAllgather(conn, sliceCodec[T](), part)
	})
}

// Alltoall sends parts[j] to rank j and returns, at index i, the part rank i
// sent to this rank. parts must have Size entries on every rank; otherwise
// every rank gets an error wrapping ErrParts. The result never aliases
// parts. On the world communicator of a job on gorun's local transport,
// slices of numbers go through shared memory. The result is new slices
// each call: in a loop, with blocks of equal length, use AlltoallInto
// buffers you keep (float64 at np=4 on 2 cores, means of back-to-back
// calls, bench/ops, three runs: 1 MiB blocks, Alltoall 2.5-3.1 ms,
// AlltoallInto 1.6-2.4 ms; 8 MiB, 36-91 and 22-24 ms).
func Alltoall[T any](c *Comm, parts [][]T) ([][]T, error) {
	return collective(c, "Alltoall", func(conn collectives.Conn) ([][]T, error) {
		return collectives.AlltoallSlices(conn, sliceCodec[T](), parts)
	})
}

// Reduce returns v0 op v1 op ... op v(Size-1) on root and the zero value of
// T elsewhere. op is applied in rank order, lower ranks on the left, so it
// need not be commutative; the built-in operators (Sum, Prod, Max, Min) may
// be applied in any order. Every rank must pass the same root and an op of
// the same type T (ErrCollectiveMismatch otherwise); that op itself is the
// same function everywhere cannot be checked.
func Reduce[T any](c *Comm, v T, op func(a, b T) T, root int) (T, error) {
	return collective(c, "Reduce", func(conn collectives.Conn) (T, error) {
		return hierReduce(conn, valueCodec[T](), v, opFor(&c.e.ops, op), root)
	})
}

// Allreduce returns v0 op v1 op ... op v(Size-1) on every rank, bit for bit
// the same everywhere. op is applied in rank order, lower ranks on the left.
// On the world communicator of a job on gorun's local transport a value
// of a fixed-size number type (an int, a float64, ...) travels through
// memory the ranks share, as a small AllreduceSlice does; other values,
// and values on other communicators, go by recursive doubling.
func Allreduce[T any](c *Comm, v T, op func(a, b T) T) (T, error) {
	return collective(c, "Allreduce", func(conn collectives.Conn) (T, error) {
		return hierAllreduce(conn, valueCodec[T](), v, opFor(&c.e.ops, op))
	})
}

// ReduceSlice combines the ranks' slices element by element with op, as
// Reduce does, and returns the result on root (nil elsewhere). Every rank
// must pass a slice of the same length: otherwise every rank gets an error
// wrapping ErrCollectiveMismatch and ErrLengthMismatch (a rank that only
// sends its slice, in its next collective call on c). The root's result is
// a new slice each call, which it may keep; in a loop, ReduceSliceInto a
// buffer you keep saves it (and where every rank may have the result,
// AllreduceSliceInto through shared memory allocates nothing).
func ReduceSlice[T any](c *Comm, v []T, op func(a, b T) T, root int) ([]T, error) {
	return collective(c, "ReduceSlice", func(conn collectives.Conn) ([]T, error) {
		return hierReduceSlice(conn, sliceCodec[T](), v, opFor(&c.e.ops, op), root)
	})
}

// AllreduceSlice combines the ranks' slices element by element with op and
// returns the result on every rank, bit for bit the same everywhere. Every
// rank must pass a slice of the same length: otherwise every rank gets an
// error wrapping ErrLengthMismatch and ErrCollectiveMismatch, and c stays
// usable. On the world communicator of a job on
// gorun's local transport, slices of numbers go through memory the ranks
// share: each rank combines its share of the vector from every rank's
// operand, in rank order, writing it into its result as it goes, and
// copies the other ranks' shares out. Elsewhere, large
// slices with a built-in operator go round a ring in chunks (reduce-scatter,
// then allgather) and others by recursive doubling; numeric slices travel as
// raw bytes.
//
// The result is a new slice each call, which the caller may keep: in a
// loop, use AllreduceSliceInto a buffer you keep. A large new slice costs
// what new memory costs Go, whatever gorun does (it writes the result
// into a slice it does not clear first, whose missing pages it maps in one
// system call, in huge pages where the kernel has them): while a
// program's heap still grows, its first calls, the kernel must hand out
// every page of every rank's result, and once the
// heap has stopped growing the result is still memory the caches have
// not seen, and a garbage collection every few calls (8 MiB of float64,
// means of 20 back-to-back calls after 10 warm-up calls, bench/ops's
// table, three runs alternated with Open MPI's twin at machine load 3.2-
// 3.4: np=2 AllreduceSlice 1.77-2.01 ms, AllreduceSliceInto 1.38-1.93,
// MPI_Allreduce 2.17-2.28; np=4 4.70-5.55, 3.51-4.00, 5.58-5.91).
func AllreduceSlice[T any](c *Comm, v []T, op func(a, b T) T) ([]T, error) {
	return collective(c, "AllreduceSlice", func(conn collectives.Conn) ([]T, error) {
		return hierAllreduceSlice(conn, sliceCodec[T](), v, nil, false, opFor(&c.e.ops, op))
	})
}

// AllreduceSliceInto is AllreduceSlice writing the result into out, as
// MPI_Allreduce writes into the caller's receive buffer: a loop of
// reductions then allocates nothing in shared memory. out must have v's
// length (where it has not, every rank gets an error wrapping
// ErrLengthMismatch) and may be v itself, as with MPI_IN_PLACE.
func AllreduceSliceInto[T any](c *Comm, v, out []T, op func(a, b T) T) error {
	_, err := collective(c, "AllreduceSliceInto", func(conn collectives.Conn) (struct{}, error) {
		_, err := hierAllreduceSlice(conn, sliceCodec[T](), v, out, true, opFor(&c.e.ops, op))
		return struct{}{}, err
	})
	return err
}

// Scan returns v0 op v1 op ... op vi on rank i (an inclusive prefix), op
// applied in rank order.
func Scan[T any](c *Comm, v T, op func(a, b T) T) (T, error) {
	return collective(c, "Scan", func(conn collectives.Conn) (T, error) {
		return collectives.Scan(conn, valueCodec[T](), v, opFor(&c.e.ops, op))
	})
}

// Barrier returns once every rank of c has called it: in shared memory on
// the world communicator of a local job, elsewhere by dissemination (about
// log2(Size) rounds of small messages).
func (c *Comm) Barrier() error {
	_, err := collective(c, "Barrier", func(conn collectives.Conn) (struct{}, error) {
		return struct{}{}, hierBarrier(conn)
	})
	return err
}
