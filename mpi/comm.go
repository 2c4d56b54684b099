package mpi

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
)

// Wildcards for receives and probes, and the Split color that leaves a rank
// out.
const (
	AnySource = -1 // receive from any rank
	AnyTag    = -1 // receive with any tag
	Undefined = -2 // Split color: this rank joins no new communicator
)

// MaxTag is the largest tag a message may carry.
const MaxTag = math.MaxInt32

// Status describes a received or probed message.
type Status struct {
	Source int // the sender's rank in the communicator
	Tag    int // the message's tag
	Size   int // payload bytes of the message
}

// Comm is a communicator: a group of ranks and a message space of their
// own. Messages sent on one communicator are received only on it. The
// methods of a Comm are safe for concurrent use.
type Comm struct {
	e      *engine
	ctx    uint32 // point-to-point context; ctx+1 carries collectives
	group  []int  // communicator rank -> world rank
	local  []int  // world rank -> communicator rank, -1 when not a member
	rank   int
	shared *commShared
	goctx  context.Context // nil: blocking calls wait until done
}

// commShared is the state every view (WithContext) of a communicator shares.
type commShared struct {
	collSeq atomic.Uint32 // collective calls made so far
	// spareConn is a collective call's service kept for the next call
	// (collConn, collective.go): a call in a loop allocates none.
	spareConn atomic.Pointer[collConn]
	world     *worldState // the world this communicator belongs to
	hier      hierState   // its ranks' hosts, for the hierarchical collectives (hier.go)
	freed     atomic.Bool // Finalize was called on this communicator (not the world)
	watch     *collWatch  // its collective context's watch, once made; guarded by the engine's mu
}

func newComm(e *engine, ctx uint32, group []int, world *worldState) *Comm {
	local := make([]int, e.size)
	for i := range local {
		local[i] = -1
	}
	rank := -1
	for r, w := range group {
		local[w] = r
		if w == e.rank {
			rank = r
		}
	}
	return &Comm{e: e, ctx: ctx, group: group, local: local, rank: rank,
		shared: &commShared{world: world}}
}

// Rank returns this process's rank in c, from 0 to Size()-1.
func (c *Comm) Rank() int {
	if c == nil {
		return -1
	}
	return c.rank
}

// Size returns the number of ranks in c.
func (c *Comm) Size() int {
	if c == nil {
		return 0
	}
	return len(c.group)
}

// WithContext returns a view of c whose blocking calls end with ctx.Err()
// when ctx is done. A cancelled receive is withdrawn (it will not consume a
// message later); a cancelled large send may still deliver its message once
// the receiver asks for it, so that the receiver never hangs.
func (c *Comm) WithContext(ctx context.Context) *Comm {
	if c == nil {
		return nil
	}
	view := *c
	view.goctx = ctx
	return &view
}

// usable reports why c cannot be used, or nil.
func (c *Comm) usable() error {
	if c == nil {
		return ErrNilComm
	}
	if c.e.finalized.Load() {
		return c.e.closed // stored before finalized
	}
	if c.shared.freed.Load() {
		return errCommFreed
	}
	return nil
}

func (c *Comm) checkDest(dest int) error {
	if dest < 0 || dest >= len(c.group) {
		return fmt.Errorf("%w: destination %d is not in [0, %d)", ErrRank, dest, len(c.group))
	}
	return nil
}

func (c *Comm) checkSource(source int) error {
	if source != AnySource && (source < 0 || source >= len(c.group)) {
		return fmt.Errorf("%w: source %d is not in [0, %d) nor AnySource", ErrRank, source, len(c.group))
	}
	return nil
}

func checkSendTag(tag int) error {
	if tag < 0 || tag > MaxTag {
		return fmt.Errorf("%w: send tag %d is not in [0, %d]", ErrTag, tag, MaxTag)
	}
	return nil
}

func checkRecvTag(tag int) error {
	if tag != AnyTag && (tag < 0 || tag > MaxTag) {
		return fmt.Errorf("%w: receive tag %d is not in [0, %d] nor AnyTag", ErrTag, tag, MaxTag)
	}
	return nil
}

// worldSource maps a communicator source to a world rank, keeping AnySource.
func (c *Comm) worldSource(source int) int {
	if source == AnySource {
		return AnySource
	}
	return c.group[source]
}

// status describes a matched message in c's terms.
func (c *Comm) status(msg *message, bodyLen int) Status {
	return Status{Source: c.local[msg.env.source], Tag: msg.env.tag, Size: bodyLen}
}
