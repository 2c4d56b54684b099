package comm

import (
	"context"
	"errors"
	"fmt"
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
	// ErrBadRank: a destination rank outside [0, Size), our own rank, or
	// a rank the transport does not serve (see UnixConfig.Peers); also a
	// configuration's peer set that names such ranks.
	ErrBadRank = errors.New("comm: rank out of range")
	// ErrFrameTooLarge: a frame larger than the transport's limit, refused
	// before anything was sent (or, on receipt, before its size was allocated).
	ErrFrameTooLarge = errors.New("comm: frame too large")
	// ErrBadFrame: a malformed frame or handshake (bad magic, bad secret,
	// impossible field, a kind reserved for transports); the connection
	// that carried it is dropped. Send refuses a frame of a reserved kind
	// with it, nothing sent.
	ErrBadFrame = errors.New("comm: malformed frame")
)

// DefaultMaxFrame is the largest payload a transport accepts unless
// configured otherwise: 1 GiB. A frame claiming more is refused before its
// size is allocated.
const DefaultMaxFrame = 1 << 30

// Kind is a frame's kind. Kinds below FirstReservedKind belong to the layer
// above: a transport carries them without reading them, and the layer above
// gives them their meaning (package mpi defines its protocol's kinds).
// Kinds from FirstReservedKind up are reserved for transports' own frames
// (goodbyes, flow control): a transport never delivers them, and Send
// refuses them with ErrBadFrame.
type Kind uint8

// FirstReservedKind is the first kind reserved for transports themselves.
const FirstReservedKind Kind = 0xF0

// Header is the fixed part of every frame. Every field but Source belongs to
// the layer above and travels unread. The transport fills in Source on
// receipt from the authenticated connection, never trusting the sender's
// claim. A frame's length is the length of its payload: no field announces
// another size.
type Header struct {
	Kind    Kind
	Context uint32 // owned by the layer above (mpi: the communicator)
	Source  int32  // sending rank (world rank), filled in by the transport
	Tag     int32  // owned by the layer above
	Seq     uint64 // owned by the layer above
}

// Frame is one header and its payload. A delivered frame's Payload belongs to
// the receiver: the transport never reuses it.
type Frame struct {
	Header
	Payload []byte
}

// checkKind refuses a kind reserved for transports.
func checkKind(k Kind) error {
	if k >= FirstReservedKind {
		return fmt.Errorf("kind %#x is reserved for transports (at or above %#x): %w", k, FirstReservedKind, ErrBadFrame)
	}
	return nil
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
// tags, communicators, matching or the protocol of the layer above: it
// carries a Header and a payload, and fills in Source on receipt. A
// transport serves the ranks its configuration names as its peers (all the
// others by default); a Composite serves each rank through one of several.
type Transport interface {
	// Rank is this process's rank and Size the number of ranks in the job
	// (world ranks, whichever of them the transport serves).
	Rank() int
	Size() int
	// Start begins delivering incoming frames to h. It is called once,
	// before any Send.
	Start(h Handler) error
	// Send writes one frame to rank dest. Frames to one destination arrive
	// in the order Send was called (by one goroutine). Send may block for
	// flow control; it ends early with ctx.Err() when ctx is done. Send to
	// our own rank (the layer above loops back itself) or to a rank the
	// transport does not serve fails with ErrBadRank; a frame of a kind
	// reserved for transports with ErrBadFrame.
	Send(ctx context.Context, dest int, h Header, payload []byte) error
	// Close says goodbye to every peer it serves (they get PeerGone with
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

// BufferThreshold is the frame length from which every transport asks a
// Handler that is a BufferProvider for the memory the payload is read into.
// Shorter frames are read into memory the transport allocates, unless the
// transport asks for them too.
const BufferThreshold = 16 << 10

// BufferProvider is an optional ability of a Handler: it supplies the
// memory a frame's payload is read into, so that, for example, a large
// message body lands straight in the receiver's buffer, or a small one in
// memory the receiver recycles, instead of a fresh allocation. Every
// transport calls BufferFor for every frame whose payload is at least
// BufferThreshold bytes long, and may call it for shorter ones (the Unix
// transport does, for every frame with a payload), with the frame's header
// (Source filled in) and its length, before the payload is read, in order
// per source and with Deliver's restrictions; the frame's Deliver follows
// before the next BufferFor for the same source, unless the connection
// ends first. BufferFor returns a slice of exactly length bytes, or nil to
// let the transport allocate; the frame is then delivered with that slice
// as its Payload.
type BufferProvider interface {
	BufferFor(h Header, length int) []byte
}

// SplitBufferProvider is an optional ability of a BufferProvider: taking a
// frame's payload in two parts, a head and the rest (the body), so that the
// body lands in memory the head decides on (package mpi reads a message's
// numbers straight into a posted receive's buffer once its descriptor, the
// head, says they fit) and crosses memory once. A transport that supports
// it (the Unix transport, for what comes through its shared-memory rings)
// calls SplitBuffers instead of BufferFor for a frame whose payload is at
// least SplitThreshold bytes long, with the frame's header (Source filled
// in), the payload's length, and first, a copy of the payload's first
// SplitPeek bytes in the transport's own memory, valid during the call
// only (the head is decided on that copy, which the sender can no longer
// change). SplitBuffers returns
// memory for the head, of n <= len(first) bytes, and for the body, of
// exactly length-n bytes; the transport copies first[:n] into head, the
// rest of the payload into body, and delivers the frame with head as its
// Payload. Or it returns nil for both, and the transport goes BufferFor's
// way. The same ordering rules as BufferFor's hold: the frame's Deliver
// follows before the next call for the same source.
type SplitBufferProvider interface {
	BufferProvider
	SplitBuffers(h Header, length int, first []byte) (head, body []byte)
}

// SplitThreshold is the payload length from which a transport that
// supports SplitBufferProvider asks for split buffers: below it, a second
// copy costs less than the asking.
const SplitThreshold = 4 << 10

// SplitPeek is how many of a payload's first bytes SplitBuffers is shown.
const SplitPeek = 16

// PeerMemoryReader is an optional ability of transports whose peers may run
// on this host: copying straight out of a peer process's memory (Linux's
// process_vm_readv), so a large body crosses memory once instead of twice
// through a socket. CanReadPeerMemory reports whether ReadPeerMemory may
// work for rank (it is on this host, reached through this transport, and
// the system allows it); both ends of a pair agree on it. ReadPeerMemory
// copies len(dst) bytes at address addr of rank's process into dst, or
// fails, having copied nothing that counts, when that is not possible
// (the peer has not connected yet, the system refuses).
type PeerMemoryReader interface {
	CanReadPeerMemory(rank int) bool
	ReadPeerMemory(rank int, addr uint64, dst []byte) error
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
// for the receiver) to dest, because its rendezvous is dearer or cheaper
// than a socket's. 0 means no preference. An eager limit the user sets
// still wins.
type EagerLimiter interface {
	EagerLimit(dest int) int
}

// PushLimiter is an optional ability of a transport whose round trip
// through the network costs more than a receiver's copy (NATS, through a
// server): PushLimit is the largest message to dest, above the eager
// limit, that the layer above may push, announcing it and sending its
// body at once in a frame of its own without waiting for the receiver to
// ask for it. 0 means none: every message above the eager limit waits.
// A transport asks for it only where its eager limit is below it.
type PushLimiter interface {
	PushLimit(dest int) int
}

// PartsSender is an optional ability: sending a frame whose payload is two
// parts (a small head and a body) without the caller joining them into a
// new slice first. The frame received is the same as Send(head+body).
type PartsSender interface {
	SendParts(ctx context.Context, dest int, h Header, head, body []byte) error
}

// Spinner is an optional ability of a Poller whose peers must wake it
// while nobody polls (the Unix transport's shared-memory rings): the layer
// above calls SpinStart before a loop of Poll calls and SpinEnd when the
// loop stops, before it sleeps, so that peers skip the wake-ups while it
// polls. Calls nest and may come from several goroutines; every SpinStart
// must be followed by one SpinEnd. Frames arrive whether or not the layer
// above calls them.
type Spinner interface {
	SpinStart()
	SpinEnd()
}

// Lingerer is an optional ability of a Spinner: SpinLinger ends a
// SpinStart as SpinEnd does, for a caller that got what it polled for and
// will likely poll again soon (the next call of a loop). The transport may
// leave its peers' wake-ups off for a short while; frames that arrive
// meanwhile are delivered at the next poll or, when nobody polls, once
// that while is over. A caller about to sleep calls SpinEnd instead.
type Lingerer interface {
	SpinLinger()
}
