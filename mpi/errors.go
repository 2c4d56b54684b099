package mpi

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gorun-mpi/gorun/collectives"
)

// Sentinel errors. Calls return them wrapped in an *Error that names the
// rank, the call and the peer; match them with errors.Is.
var (
	// ErrPeerLost: the peer of a call died or finished (called Finalize)
	// while the call needed it. Messages it sent before are still received.
	ErrPeerLost = errors.New("mpi: peer lost")
	// ErrRank: a destination or source rank outside the communicator.
	ErrRank = errors.New("mpi: rank out of range")
	// ErrTag: a negative tag (only receives may use AnyTag), or one too large.
	ErrTag = errors.New("mpi: invalid tag")
	// ErrTypeMismatch: the receive target cannot hold the message that
	// matched. The message is consumed; later messages are unaffected.
	ErrTypeMismatch = errors.New("mpi: type mismatch")
	// ErrNotPointer: a receive target that is not a non-nil pointer.
	ErrNotPointer = errors.New("mpi: receive target is not a non-nil pointer")
	// ErrEncode: a value that cannot be encoded for sending.
	ErrEncode = errors.New("mpi: cannot encode value")
	// ErrFinalized: a call after Finalize.
	ErrFinalized = errors.New("mpi: called after Finalize")
	// ErrTooLarge: a message larger than the transport accepts.
	ErrTooLarge = errors.New("mpi: message too large")
	// ErrNilComm: a method called on a nil *Comm (e.g. the result of
	// Split with color Undefined).
	ErrNilComm = errors.New("mpi: nil communicator")
	// ErrInit: Init could not join the job.
	ErrInit = errors.New("mpi: cannot join the job")
	// ErrCollectiveMismatch: ranks of a communicator entered different
	// collectives at the same point of their sequence of collective calls,
	// or the same collective with different roots or element types, or
	// ReduceSlice, AllreduceSlice or AllreduceSliceInto with slices of
	// different lengths. The error names both calls, e.g. "mpi: rank 0
	// Barrier: collective mismatch: rank 0 called Barrier while rank 1
	// called Bcast(root 1)". Every rank of the call fails: in the call
	// itself, or, where its part of the call could complete without hearing
	// from the rank that differs (the root of a Bcast sends and returns), in
	// its next collective call on the communicator. After a mismatch, every
	// collective call on the communicator fails with it (point-to-point
	// calls still work), except after a difference of lengths in
	// AllreduceSlice or AllreduceSliceInto, which every rank finds in the
	// call and which leaves the communicator usable. See the package
	// documentation for what cannot be detected.
	ErrCollectiveMismatch = errors.New("mpi: collective mismatch")
)

// Errors of the collectives, for errors.Is. A rank whose collective call
// fails because another rank's did gets an error wrapping ErrPeerFailed and
// that rank's cause.
var (
	// ErrRoot: a root rank outside the communicator.
	ErrRoot = errors.New("mpi: root out of range")
	// ErrNilOp: a reduction with a nil operator.
	ErrNilOp = errors.New("mpi: nil operator")
	// ErrLengthMismatch: ReduceSlice, AllreduceSlice, AllreduceSliceInto
	// or BcastInto with slices of different lengths on different ranks.
	ErrLengthMismatch = errors.New("mpi: slice lengths differ between ranks")
	// ErrParts: Alltoall with a number of parts other than Size.
	ErrParts = errors.New("mpi: wrong number of parts")
	// ErrAlgorithm: an unknown algorithm in a GORUN_COLL_* variable.
	ErrAlgorithm = errors.New("mpi: unknown algorithm")
	// ErrPeerFailed: another rank failed in the same collective call.
	ErrPeerFailed = errors.New("mpi: another rank failed in the same call")
)

// collectiveSentinels pairs each sentinel above with the one package
// collectives wraps in its errors: an *Error whose cause wraps the second
// matches the first (and the other way round), so errors.Is(err, ErrRoot)
// holds for a root out of range found by the collectives, whose text never
// shows their package.
var collectiveSentinels = [...][2]error{
	{ErrRoot, collectives.ErrRoot},
	{ErrNilOp, collectives.ErrNilOp},
	{ErrLengthMismatch, collectives.ErrLengthMismatch},
	{ErrParts, collectives.ErrParts},
	{ErrAlgorithm, collectives.ErrAlgorithm},
	{ErrPeerFailed, collectives.ErrPeerFailed},
	{ErrCollectiveMismatch, collectives.ErrCollectiveMismatch},
}

// Error describes a failed call: which rank made it, which call, with which
// peer and tag, and why. It unwraps to the cause, so errors.Is(err,
// ErrPeerLost) and similar work. Peer and Tag are -1 where they do not apply
// (or stand for AnySource / AnyTag).
type Error struct {
	Op   string // the call, e.g. "Recv"
	Rank int    // the calling rank, in the communicator of the call
	Peer int    // the destination or source rank, or -1
	Tag  int    // the tag, or -1
	Err  error  // the cause
}

// Error reads like "mpi: rank 1 Recv(from 0, tag 3): cannot decode string into *int".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mpi: rank %d %s", e.Rank, e.Op)
	var args []string
	if e.Peer != noPeer {
		dir := "to"
		if isReceive(e.Op) {
			dir = "from"
		}
		if e.Peer == AnySource {
			args = append(args, dir+" any source")
		} else {
			args = append(args, fmt.Sprintf("%s %d", dir, e.Peer))
		}
	}
	if e.Tag != noTag {
		if e.Tag == AnyTag {
			args = append(args, "any tag")
		} else {
			args = append(args, fmt.Sprintf("tag %d", e.Tag))
		}
	}
	if len(args) > 0 {
		b.WriteString("(" + strings.Join(args, ", ") + ")")
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(strings.TrimPrefix(e.Err.Error(), "mpi: "), "collectives: "))
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is a sentinel of the collectives that the
// cause wraps under its other name (see collectiveSentinels).
func (e *Error) Is(target error) bool {
	for _, pair := range collectiveSentinels {
		switch target {
		case pair[0]:
			return errors.Is(e.Err, pair[1])
		case pair[1]:
			return errors.Is(e.Err, pair[0])
		}
	}
	return false
}

// noPeer and noTag mark an Error field that does not apply. They differ
// from AnySource/AnyTag (-1), which are meaningful.
const (
	noPeer = -1 << 30
	noTag  = -1 << 30
)

func isReceive(op string) bool {
	switch op {
	case "Recv", "Irecv", "Probe", "Iprobe":
		return true
	}
	return false
}

// wrapErr builds the *Error for a call on c. An err that is already an
// *Error is returned as it is.
func (c *Comm) wrapErr(op string, peer, tag int, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	rank := -1
	if c != nil {
		rank = c.rank
	}
	return &Error{Op: op, Rank: rank, Peer: peer, Tag: tag, Err: err}
}
