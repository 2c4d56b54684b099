package collectives

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. The collectives wrap them with the details (which rank,
// which sizes), so callers match them with errors.Is. The errors the
// collectives return read without this package's name ("root 7 out of range
// [0, 4)", "nil operator: Allreduce needs an operator"): package mpi puts
// them in its own errors, whose sentinels match these.
var (
	// ErrRoot: a root rank outside [0, Size).
	ErrRoot = errors.New("collectives: root out of range")
	// ErrNilOp: a reduction called with a nil operator.
	ErrNilOp = errors.New("collectives: nil operator")
	// ErrLengthMismatch: ReduceSlice, AllreduceSlice or BcastInto called
	// with slices of different lengths on different ranks.
	ErrLengthMismatch = errors.New("collectives: slice lengths differ between ranks")
	// ErrParts: Scatter or Alltoall given a number of parts other than Size.
	ErrParts = errors.New("collectives: wrong number of parts")
	// ErrAlgorithm: an unknown algorithm name in a GORUN_COLL_* variable, or
	// ranks that chose different algorithms for one call.
	ErrAlgorithm = errors.New("collectives: unknown algorithm")
	// ErrProtocol: a collective message that does not have the expected form
	// (a bug or a mismatched call on another rank).
	ErrProtocol = errors.New("collectives: malformed collective message")
	// ErrPeerFailed: another rank of the same call failed; the returned
	// *RemoteError also wraps that rank's sentinel when it has one.
	ErrPeerFailed = errors.New("collectives: another rank failed in the same call")
)

// RemoteError is what a rank returns when its call could not complete
// because another rank of the same call failed (for example its operator was
// nil or its slice had another length). Every rank that took part in the
// exchange with the failed one learns of it this way instead of hanging.
type RemoteError struct {
	Rank  int    // the rank that failed
	Cause error  // the sentinel of that rank's failure (ErrNilOp, ...), or nil
	Msg   string // that rank's error text
}

// Error reads like "rank 2 failed: nil operator: Allreduce needs an operator".
func (e *RemoteError) Error() string {
	return fmt.Sprintf("rank %d failed: %s", e.Rank, e.Msg)
}

// detailError is a failure of a kind (a sentinel) with its details.
type detailError struct {
	kind   error
	detail error
}

// failf returns an error wrapping kind (and any error the format wraps
// with %w) that reads "<kind without the package name>: <details>", e.g.
// "malformed collective message: chunk of 3 elements from rank 1, want 4".
func failf(kind error, format string, args ...any) error {
	return &detailError{kind: kind, detail: fmt.Errorf(format, args...)}
}

func (e *detailError) Error() string {
	return strings.TrimPrefix(e.kind.Error(), "collectives: ") + ": " + e.detail.Error()
}

// Unwrap returns the kind and the detail, for errors.Is.
func (e *detailError) Unwrap() []error { return []error{e.kind, e.detail} }

// rootError is a root outside the group.
type rootError struct{ root, size int }

func (e *rootError) Error() string {
	return fmt.Sprintf("root %d out of range [0, %d)", e.root, e.size)
}

// Unwrap returns ErrRoot.
func (e *rootError) Unwrap() error { return ErrRoot }

// Unwrap returns ErrPeerFailed and the failed rank's sentinel, if known.
func (e *RemoteError) Unwrap() []error {
	if e.Cause == nil {
		return []error{ErrPeerFailed}
	}
	return []error{ErrPeerFailed, e.Cause}
}

// Failure codes carried in a failure frame; they select the sentinel a
// RemoteError wraps.
const (
	codeOther byte = iota
	codeRoot
	codeNilOp
	codeLength
	codeParts
	codeAlgorithm
	codeProtocol
	codeMismatch       // ErrCollectiveMismatch
	codeMismatchLength // ErrCollectiveMismatch and ErrLengthMismatch
)

var codeSentinels = [...]error{
	codeRoot:           ErrRoot,
	codeNilOp:          ErrNilOp,
	codeLength:         ErrLengthMismatch,
	codeParts:          ErrParts,
	codeAlgorithm:      ErrAlgorithm,
	codeProtocol:       ErrProtocol,
	codeMismatch:       ErrCollectiveMismatch,
	codeMismatchLength: &mismatchError{text: "slice lengths differ between ranks", length: true},
}

// failure is the first failure a call has seen: this rank's own (local is
// set) or one reported by another rank. Algorithms carry it along their usual
// message pattern in place of data, so every rank completes the pattern and
// returns an error instead of waiting for data that will never come.
type failure struct {
	rank  int
	code  byte
	msg   string
	local error
}

// maxFailureText bounds the error text a failure frame carries.
const maxFailureText = 512

func localFailure(rank int, err error) *failure {
	code := codeOther
	switch {
	case errors.Is(err, ErrCollectiveMismatch) && errors.Is(err, ErrLengthMismatch):
		code = codeMismatchLength
	case errors.Is(err, ErrCollectiveMismatch):
		code = codeMismatch
	default:
		for c, s := range codeSentinels {
			if s != nil && errors.Is(err, s) {
				code = byte(c)
				break
			}
		}
	}
	msg := err.Error()
	if len(msg) > maxFailureText {
		msg = msg[:maxFailureText]
	}
	return &failure{rank: rank, code: code, msg: msg, local: err}
}

// err is the error the call returns on this rank.
func (f *failure) err() error {
	if f.local != nil {
		return f.local
	}
	var cause error
	if int(f.code) < len(codeSentinels) {
		cause = codeSentinels[f.code]
	}
	return &RemoteError{Rank: f.rank, Cause: cause, Msg: f.msg}
}

// firstFailure picks between two failures (either may be nil): the one of
// the lower rank, so ranks that see both report the same one.
func firstFailure(a, b *failure) *failure {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.rank < a.rank:
		return b
	}
	return a
}

// checkRoot reports a root outside the group.
func checkRoot(c Conn, root int) error {
	if root < 0 || root >= c.Size() {
		return &rootError{root: root, size: c.Size()}
	}
	return nil
}

// prefer returns own, this rank's failure, when f is the same failure come
// back from another rank (as it does to a rank that handed its operand on),
// so that the failed rank reports its original error.
func prefer(f, own *failure) *failure {
	if f != nil && own != nil && f.rank == own.rank {
		return own
	}
	return f
}
