package collectives

// Conn is the narrow point-to-point service the algorithms run on. The mpi
// package implements it over a communicator's private collective context, so
// collective traffic never matches user messages; tests implement it over the
// in-memory transport.
//
// One Conn serves one collective call: the tags an algorithm passes are its
// own small step numbers (0 <= tag < MaxTag), and the implementation keeps the
// messages of different calls apart. Messages between one pair of ranks with
// one tag arrive in the order sent.
type Conn interface {
	// Rank is this rank's index in the group, Size the group's size.
	Rank() int
	Size() int
	// Send sends payload to dest. It may block until dest receives it
	// (large payloads travel by rendezvous), so algorithms in which two ranks
	// send to each other must use Sendrecv. Send does not keep payload once
	// it returns: the caller may then change it.
	Send(payload []byte, dest, tag int) error
	// Recv receives the next payload from source with tag. The returned
	// slice belongs to the caller.
	Recv(source, tag int) ([]byte, error)
	// Sendrecv sends to dest and receives from source concurrently, so that
	// rings and pairwise exchanges cannot deadlock.
	Sendrecv(payload []byte, dest, sendTag int, source, recvTag int) ([]byte, error)
}

// BufferedConn is an optional ability of a Conn: receiving into memory the
// caller provides, so that large payloads need no fresh allocation.
type BufferedConn interface {
	// SendrecvInto is Sendrecv whose received payload may be read straight
	// into buf (when it fits); the result then aliases buf. Callers must
	// not assume it does.
	SendrecvInto(payload []byte, dest, sendTag int, buf []byte, source, recvTag int) ([]byte, error)
}

// RawCodec is an optional ability of a Codec of slices: its payloads are the
// slices' own memory (fixed-size numbers, host byte order), so Encode is a
// view, not a copy, and a payload read into that view is the decoded value.
type RawCodec interface {
	Raw() bool
}

// MaxTag bounds the step tags an algorithm may use on a Conn. The mpi
// package keeps the last one, MaxTag-1, for messages of its own (it tells
// a peer which call a rank has long been waiting in).
const MaxTag = 1 << 12

// Codec turns values of T into payloads and back. The mpi package supplies
// codecs that move numeric slices as raw bytes.
type Codec[T any] interface {
	Encode(v T) ([]byte, error)
	Decode(payload []byte) (T, error)
}

// Op is a reduction operator. Fn is applied with the lower ranks' operand on
// the left. Commutative marks the built-in operators (Sum, Prod, Max, Min):
// only those may be served by algorithms that reorder operands.
type Op[T any] struct {
	Fn          func(a, b T) T
	Commutative bool
	// Kernel, when set, does dst[i] = Fn(a[i], b[i]) for a whole slice at
	// once (a loop the compiler can optimise, with no call per element);
	// the mpi package sets it for the built-in operators on numbers.
	Kernel func(dst, a, b []T)
	// Fold, when set, does dst[i] = ((srcs[0][i] Fn srcs[1][i]) Fn
	// srcs[2][i]) ... for whole slices, reading several operands per pass
	// (same results as Fn applied pairwise in that order).
	Fold func(dst []T, srcs ...[]T)
}
