// Package collectives holds gorun's collective algorithms, written against
// the narrow point-to-point interface Conn, so that they can be tested on the
// in-memory transport at many sizes in milliseconds. Package mpi exposes them
// with typed, generic signatures; this package knows nothing of mpi.
//
// One file per collective holds its algorithms: bcast.go (binomial tree;
// binomial scatter + ring allgather), scatter.go and gather.go (binomial
// tree; linear), allgather.go (recursive doubling; ring), alltoall.go
// (pairwise exchange), reduce.go (binomial tree), allreduce.go (recursive
// doubling; ring reduce-scatter + allgather), scan.go (recursive doubling),
// barrier.go (dissemination). Ranks on one host may also share an arena
// (arena.go): AllreduceSlice, Bcast and Barrier then go through memory
// instead of messages (shmallreduce.go, shmbcast.go). tree.go holds the
// topologies, recdbl.go the recursive doubling pattern, and decide.go the
// one table that picks an algorithm by rank count, size and shared memory.
//
// # Usage
//
// Every rank of a group calls the same collectives in the same order, each
// on a fresh Conn (see Conn), with a Codec for its values:
//
//	sum, err := collectives.Allreduce(conn, codec, x, collectives.Op[float64]{
//		Fn: func(a, b float64) float64 { return a + b }, Commutative: true})
//
// # Choosing algorithms
//
// The table in decide.go chooses; an environment variable forces a choice
// for one collective, for tests and teaching:
//
//	GORUN_COLL_ALLREDUCE=recursive_doubling|ring|rabenseifner|shm
//	GORUN_COLL_BCAST=binomial|scatter_allgather|shm
//	GORUN_COLL_ALLGATHER=recursive_doubling|ring
//	GORUN_COLL_GATHER=binomial|linear
//	GORUN_COLL_SCATTER=binomial|linear
//	GORUN_COLL_REDUCE=binomial, GORUN_COLL_ALLTOALL=pairwise,
//	GORUN_COLL_SCAN=recursive_doubling, GORUN_COLL_BARRIER=dissemination|shm
//
// An unknown name makes the call fail with ErrAlgorithm, naming the valid
// ones. Every rank must see the same settings (gorun gives every rank the
// same environment). Calls through shared memory read them once, when a
// process first uses its arena; message algorithms read them each call. The ring allreduce reorders operands, so it serves
// commutative operators only; others fall back to recursive doubling. shm
// where the ranks share no arena falls back to the table.
//
// # Semantics
//
// Operators may be non-commutative: operands are combined in rank order,
// lower ranks on the left, and every rank of an Allreduce gets a
// bit-identical result. Bad input (a root out of range, a nil operator,
// slices of different lengths, a wrong number of parts) gives an error
// rather than a hang: a rank that fails still takes part in the message
// pattern, sending its failure instead of data, so the ranks that would have
// waited for it return an error too (a *RemoteError wrapping ErrPeerFailed
// and the failed rank's sentinel). Communication errors (a lost peer) are
// returned as the Conn reports them.
//
// # Mismatched calls
//
// Each collective starts by telling its Conn the call's Signature (the
// collective, root, element type, and length where every rank must pass
// the same: ReduceSlice) when the Conn is a CallConn; the mpi package's
// Conn stamps every message with it and fails a call that meets another
// (see ErrCollectiveMismatch). Through an arena the signature, and that of
// the rank's previous call through it, go in the call header: a Barrier or
// AllreduceSlice compares every rank's, a Bcast the root's, and a rank
// waiting for another's arrival looks, while it sleeps, for a rank that
// arrived in another call. AllreduceSlice compares lengths itself (every
// rank fails alike, with ErrCollectiveMismatch and ErrLengthMismatch).
// Operators cannot be compared, only their element types; parts of
// Gather, Allgather, Scatter and Alltoall may legally differ in length.
package collectives
