package comm

import (
	"context"
	"errors"
)

// Sentinel errors shared by every transport. Implementations wrap them with
// %w and the details (which rank, which address), so callers match them with
// errors.Is whatever transport they run on.
var (
	// ErrPeerFinished: the peer closed its transport cleanly (it called
	// Close, i.e. mpi.Finalize) and will send nothing more.
	ErrPeerFinished = errors.New("comm: peer finished")
	// ErrPeerLost: the connection to the peer broke without a clean close
	// (the process died, or the network or server failed).
	ErrPeerLost = errors.New("comm: peer lost")
	// ErrClosed: this transport was closed; nothing more can be sent.
	ErrClosed = errors.New("comm: transport closed")
	// ErrBadRank: a destination rank outside [0, Size).
	ErrBadRank = errors.New("comm: rank out of range")
	// ErrFrameTooLarge: a frame larger than the transport's limit, refused
	// before anything was sent (or, on receipt, before its size was allocated).
	ErrFrameTooLarge = errors.New("comm: frame too large")
	// ErrBadFrame: a malformed frame or handshake (bad magic, bad secret,
	// impossible field); the connection that carried it is dropped.
	ErrBadFrame = errors.New("comm: malformed frame")
)

// DefaultMaxFrame is the largest payload a transport accepts unless
// configured otherwise: 1 GiB. A frame claiming more is refused before its
// size is allocated.
const DefaultMaxFrame = 1 << 30

// Kind tells the layer above what a frame is for. The transport carries it
// without interpreting it, except KindGoodbye, which transports use for their
// own clean-close handshake and never deliver.
type Kind uint8

// Frame kinds used by the mpi layer. The values are part of the wire format.
const (
	KindEager     Kind = 1 // a whole message: envelope and payload
	KindRTS       Kind = 2 // rendezvous request to send: Header.Size announces the data's size; the payload is a small descriptor
	KindCTS       Kind = 3 // rendezvous clear to send: Header.Seq names the RTS
	KindRndvData  Kind = 4 // rendezvous payload: Header.Seq names the RTS
	KindControl   Kind = 5 // reserved for the layer above
	KindGoodbye   Kind = 6 // transport-internal clean close
	KindTransport Kind = 7 // transport-internal (flow control, handshakes)
	// KindRTSLocal is an RTS whose body the receiver may copy straight out
	// of the sender's memory (same host, see PeerProcess): its payload is
	// the descriptor followed by the body's address and length (16 bytes).
	KindRTSLocal Kind = 8
)

// Header is the fixed part of every frame. The transport fills in Source on
// receipt from the authenticated connection, never trusting the sender's claim.
type Header struct {
	Kind    Kind
	Context uint32 // communicator context
	Source  int32  // sending rank (world rank)
	Tag     int32
	Seq     uint64 // message sequence or rendezvous id, owned by the layer above
	Size    uint64 // announced payload size (RTS); for other kinds len(Payload)
}

// Frame is one header and its payload. A delivered frame's Payload belongs to
// the receiver: the transport never reuses it.
type Frame struct {
	Header
	Payload []byte
}

// Handler receives what a transport reads. The transport calls Deliver for
// the frames of one source in the order they were sent, never concurrently
// for the same source (it may call it concurrently for different sources).
// Deliver must not block for long and must not call Send on the same
// transport synchronously (start a goroutine for replies).
type Handler interface {
	Deliver(f Frame)
	// PeerGone reports that rank will send nothing more; err wraps
	// ErrPeerFinished for a clean close and ErrPeerLost otherwise. It is
	// called at most once per rank, after every frame that rank sent us was
	// delivered.
	PeerGone(rank int, err error)
}

// Transport moves frames between the ranks of one job. It knows nothing of
// tags, communicators or matching: that is the mpi layer's job.
type Transport interface {
	// Rank is this process's rank; Size the number of ranks in the job.
	Rank() int
	Size() int
	// Start begins delivering incoming frames to h. It is called once,
	// before any Send.
	Start(h Handler) error
	// Send writes one frame to rank dest. Frames to one destination arrive
	// in the order Send was called (by one goroutine). Send may block for
	// flow control; it ends early with ctx.Err() when ctx is done. Send to
	// our own rank is not supported (the layer above loops back itself).
	Send(ctx context.Context, dest int, h Header, payload []byte) error
	// Close says goodbye to every peer (they get PeerGone with
	// ErrPeerFinished after our last frame) and releases everything.
	Close() error
}

// Poller is an optional ability: a transport that can make progress on the
// caller's goroutine without blocking, so a waiting receiver can poll
// briefly before it sleeps, as MPI libraries do. Poll delivers whatever
// frames are ready through the Handler and reports whether it delivered any.
type Poller interface {
	Poll() bool
}

// BufferProvider is an optional ability of a Handler: it supplies the
// memory a large frame's payload is read into, so a rendezvous body can land
// straight in the receiver's buffer instead of a fresh allocation. BufferFor
// returns a slice of exactly h.Size bytes, or nil to let the transport
// allocate. It is called like Deliver (in order per source, with the same
// restrictions), before the frame's payload is read; the frame is then
// delivered with that slice as its Payload.
type BufferProvider interface {
	BufferFor(h Header) []byte
}

// PeerProcess is an optional ability of transports whose peers run on this
// host: PeerPID returns the process id of rank, as the kernel reported it
// for the connection rank dialed to us, or 0 when unknown.
type PeerProcess interface {
	PeerPID(rank int) int
}

// TrySender is an optional ability: sending a small frame only if it can be
// done at once, without waiting for a lock, a connection or buffer space.
// A Handler may call it from Deliver (where Send is forbidden) to answer
// without a goroutine hop. TrySend reports whether the frame went out; when
// it did not and err is nil, nothing was sent and the caller falls back to
// Send on another goroutine.
type TrySender interface {
	TrySend(dest int, h Header, payload []byte) (sent bool, err error)
}

// EagerLimiter is an optional ability: a transport that prefers its own
// eager limit (the largest message the layer above sends without waiting
// for the receiver), because its rendezvous is dearer or cheaper than a
// socket's. An eager limit the user sets still wins.
type EagerLimiter interface {
	EagerLimit() int
}

// PartsSender is an optional ability: sending a frame whose payload is two
// parts (a small head and a body) without the caller joining them into a
// new slice first. The frame received is the same as Send(head+body).
type PartsSender interface {
	SendParts(ctx context.Context, dest int, h Header, head, body []byte) error
}
