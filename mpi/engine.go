package mpi

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/control"
)

// engine is one process's endpoint: the matcher behind a lock, the
// rendezvous tables, and the transport that feeds it. It implements
// comm.Handler. Every communicator of the process shares it.
type engine struct {
	t          comm.Transport        // nil in a world of size 1
	poller     comm.Poller           // nil when the transport cannot poll
	spinner    comm.Spinner          // nil when the transport needs no word of polling
	lingerer   comm.Lingerer         // nil when the transport cannot linger after polling
	reader     comm.PeerMemoryReader // nil when no peer's memory can be read
	parts      comm.PartsSender      // t as a PartsSender, nil when it is not one
	rank, size int
	eagerLimit []int // per destination: the largest message sent eagerly
	// pushLimit, per destination, is the largest message (descriptor and
	// body) above the eager limit that a send other than a sync send
	// pushes: its announcement (kindRTSPush), then at once its body, with
	// no clear-to-send awaited, so that the send completes as an eager
	// one does. It is the transport's comm.PushLimiter preference (NATS
	// under a server whose max_payload keeps the eager limit below 2 MiB
	// less 128 bytes), 0 (nothing pushed) for other destinations and when
	// the user sets the eager limit.
	pushLimit []int
	spin      time.Duration
	yield     bool           // give the core away between empty polls
	copyDelay time.Duration  // tests only: see CopyDelayEnv
	syncSends bool           // user sends wait for their match (WithSyncSends)
	blocked   *blockReporter // nil without a launcher
	ops       opCache        // the built-in operators' collectives.Op

	// requests and messages are the spare structs of blocking receives
	// and of eager arrivals (see engine.request, engine.recycleMessage),
	// so that a message's way through the engine allocates none; codecs
	// the encoders of values that are not numeric slices.
	requests spares[Request]
	messages spares[message]
	codecs   sync.Pool // *msgCodec: see engine.codec
	// arriving holds, per world rank, the message whose spare buffer
	// the frame being read from that rank is read into (see lend).
	arriving []*message

	mu    sync.Mutex
	match matcher
	sends map[uint64]*sendOp  // rendezvous sends awaiting clear-to-send, by id
	recvs map[rndvKey]*recvOp // matched rendezvous receives awaiting their body
	// pushed holds the pushed messages (kindRTSPush) whose body has not
	// come yet, matched or not, so that the body or the loss of its
	// sender finds them.
	pushed   map[rndvKey]*message
	gone     []error // per world rank: why it will send nothing more
	goneLeft int     // peers not yet gone
	nextID   uint64  // next rendezvous id
	nextCtx  uint32  // lowest context id this process has not used
	closed   error   // set by Finalize
	// finalized is set, after closed, by Finalize: calls check it
	// without the lock (Comm.usable), which Deliver contends for.
	finalized atomic.Bool
	arrival   *completion // finished at the next unexpected arrival, for Probe

	// async counts frames sent on goroutines of their own (clear-to-send
	// answers, bodies of detached sends): Finalize waits for them before
	// it says goodbye, so a goodbye never overtakes them. asyncClosed,
	// under asyncMu, says Finalize has begun that wait: a goroutine
	// started later (a frame that arrived meanwhile asks for an answer)
	// is not counted, since a WaitGroup's Add must come before its Wait.
	async       sync.WaitGroup
	asyncMu     sync.Mutex
	asyncClosed bool

	// sent and received count frames per peer, for deadlock detection: a
	// frame counts as sent from before its first byte leaves (see
	// countSend) and as received once Deliver has handled it, so a frame
	// on its way always shows as a difference. busy counts body copies in
	// progress that no counter shows (a pull made by a receive's caller).
	sent, received []atomic.Uint64
	busy           atomic.Int64
	pulls          atomic.Uint64 // bodies copied out of senders' memory
	shared         atomic.Uint64 // of those, bodies part-written by their senders (share.go)
	directEager    atomic.Uint64 // eager bodies read straight into their receive's memory (splitbody.go)
}

type rndvKey struct {
	source int
	id     uint64
}

// sendOp is a rendezvous send waiting for its clear-to-send.
type sendOp struct {
	id   uint64
	dest int
	body []byte
	// pulled: the receiver copied the body out of our memory (kindRTSLocal)
	// and no body is to be sent.
	pulled bool
	// eager: a small sync send that went whole; the clear-to-send only
	// says a receive took it.
	eager bool
	// detached: no caller waits to send the body (an Isend, or a send whose
	// context ended): the clear-to-send's handler sends it, so the receiver
	// never hangs, and then finishes the operation.
	detached bool
	completion
}

func newEngine(t comm.Transport, rank, size int, cfg config) *engine {
	e := &engine{
		t: t, rank: rank, size: size,
		eagerLimit: make([]int, size), pushLimit: make([]int, size),
		spin: cfg.spin, yield: cfg.yield,
		copyDelay: cfg.copyDelay, syncSends: cfg.syncSends,
		sends:    make(map[uint64]*sendOp),
		recvs:    make(map[rndvKey]*recvOp),
		pushed:   make(map[rndvKey]*message),
		gone:     make([]error, size),
		goneLeft: size - 1,
		nextCtx:  2, // the world uses 0 (point to point) and 1 (collectives)
		sent:     make([]atomic.Uint64, size),
		received: make([]atomic.Uint64, size),
		arriving: make([]*message, size),
	}
	e.parts, _ = t.(comm.PartsSender)
	el, prefers := t.(comm.EagerLimiter)
	for dest := range e.eagerLimit {
		e.eagerLimit[dest] = cfg.eagerLimit
		if prefers && !cfg.eagerSet && dest != rank {
			if limit := el.EagerLimit(dest); limit > 0 {
				e.eagerLimit[dest] = limit
			}
		}
	}
	if pl, ok := t.(comm.PushLimiter); ok && !cfg.eagerSet {
		for dest := range e.pushLimit {
			if limit := pl.PushLimit(dest); dest != rank && limit > e.eagerLimit[dest] {
				e.pushLimit[dest] = limit
			}
		}
	}
	if p, ok := t.(comm.Poller); ok {
		e.poller = p
		e.spinner, _ = t.(comm.Spinner)
		e.lingerer, _ = t.(comm.Lingerer)
	}
	if r, ok := t.(comm.PeerMemoryReader); ok && !cfg.noPull {
		e.reader = r
	}
	return e
}

// Deliver is called by the transport for every frame, in order per source.
func (e *engine) Deliver(f comm.Frame) {
	src := int(f.Source)
	if src < 0 || src >= e.size {
		return
	}
	// Counted once handled: a body copied here, and any answer sent
	// because of this frame, happen before the count moves.
	defer e.received[src].Add(1)
	env := envelope{ctx: f.Context, source: src, tag: int(f.Tag)}
	switch f.Kind {
	case kindEager:
		msg := e.lent(src, f.Payload)
		msg.env, msg.ackID = env, f.Seq
		if msg.claimed != nil {
			e.arriveClaimed(msg, f.Payload) // see SplitBuffers
			break
		}
		msg.body, msg.size = f.Payload, len(f.Payload)
		e.arrive(msg)
	case kindRTS, kindRTSLocal, kindRTSShared:
		size, remote, desc, ok := decodeRTS(f.Kind, f.Payload)
		if !ok || size > MaxMessageSize {
			// Malformed, or more than any gorun rank announces (the
			// sender refuses it first): not a gorun rank of this build.
			return
		}
		e.arrive(&message{env: env, head: desc, size: int(size), rndv: true, id: f.Seq, remote: remote})
	case kindRTSPush:
		size, _, desc, ok := decodeRTS(f.Kind, f.Payload)
		if !ok || size > MaxMessageSize {
			return
		}
		e.arrive(&message{env: env, head: desc, size: int(size), rndv: true, pushed: true, id: f.Seq})
	case kindCTS:
		if f.Tag == ctsShare {
			e.writeShare(src, f.Seq, f.Payload)
			break
		}
		e.onClearToSend(f.Seq, f.Tag == ctsPulled)
	case kindWritten:
		e.onWritten(src, f.Seq, f.Tag == writeFailed)
	case kindRndvData:
		e.slowCopy()
		key := rndvKey{src, f.Seq}
		e.mu.Lock()
		r := e.recvs[key]
		delete(e.recvs, key)
		if m := e.pushed[key]; m != nil {
			delete(e.pushed, key)
			if r == nil {
				// No receive took it yet: the body waits on the
				// message, as an eager message's does.
				m.body, m.bodyIn = f.Payload, true
			}
		}
		e.mu.Unlock()
		if r != nil {
			r.msg.body = f.Payload
			r.finish(nil)
		}
	}
}

// newMessage returns a zero message, a recycled one when there is one.
func (e *engine) newMessage() *message {
	if m := e.messages.get(); m != nil {
		return m
	}
	return &message{}
}

// recycleMessage hands back an eager message that its receive has
// decoded: nothing refers to it any more (the matcher dropped it when the
// receive took it, probes copy what they report under the lock). Its body
// is reused only when it was the message's spare buffer (borrowed), which
// the receive copied out of; any other body may be the receiver's value.
func (e *engine) recycleMessage(m *message) {
	if m.rndv || m.selfAck != nil {
		return
	}
	spare := m.spare
	*m = message{}
	m.spare = spare
	e.messages.put(m)
}

// BufferFor implements comm.BufferProvider: a rendezvous body of raw
// numeric elements whose receive target is a slice of the same kind with
// room enough is read straight into the target's memory, and a small eager
// message into a recycled message's spare buffer (see lend).
func (e *engine) BufferFor(h comm.Header, length int) []byte {
	switch h.Kind {
	case kindRndvData:
		return e.bodyTarget(int(h.Source), h.Seq, length)
	case kindEager:
		return e.lend(int(h.Source), length)
	}
	return nil
}

// bodyTarget returns the receive target's memory for the body of length
// bytes of rendezvous id from source, when it can take it, else nil.
func (e *engine) bodyTarget(source int, id uint64, length int) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.recvs[rndvKey{source, id}]
	if r != nil && r.target != nil {
		r.into, r.intoKind = directTarget(r.target)
		r.target = nil
	}
	if r == nil || r.into == nil || len(r.into) < length || r.msg == nil {
		return nil
	}
	if r.intoBytes {
		return r.into[:length]
	}
	desc := r.msg.head
	if len(desc) < 2 || desc[0] != fmtRaw || !sameRawKind(r.intoKind, reflect.Kind(desc[1])) {
		return nil
	}
	return r.into[:length]
}

// arrive hands an incoming message to the matcher.
func (e *engine) arrive(msg *message) {
	e.mu.Lock()
	if msg.pushed {
		e.pushed[rndvKey{msg.env.source, msg.id}] = msg
	}
	r := e.match.arrive(msg)
	if r != nil {
		r.msg = msg
		e.awaitBody(r, msg)
	}
	wake := e.takeArrival(r == nil)
	e.mu.Unlock()
	if r != nil {
		e.matched(r, msg)
	}
	if wake != nil {
		wake.finish(nil)
	}
}

// awaitBody records r, which took msg, as waiting for msg's body when
// that is still to come. Called with e.mu held.
func (e *engine) awaitBody(r *recvOp, msg *message) {
	if msg.rndv && !msg.bodyIn {
		e.recvs[rndvKey{msg.env.source, msg.id}] = r
	}
}

// arrivals returns a completion that finishes when something a prober may
// be waiting for happens: an unexpected message, a peer gone, Finalize.
func (e *engine) arrivals() *completion {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.arrival == nil {
		e.arrival = &completion{}
		e.arrival.init()
	}
	return e.arrival
}

// takeArrival detaches the prober's completion when cond holds; the
// caller finishes it outside the lock. Called with e.mu held.
func (e *engine) takeArrival(cond bool) *completion {
	if !cond || e.arrival == nil {
		return nil
	}
	c := e.arrival
	e.arrival = nil
	return c
}

// matched finishes what follows a match made outside the lock.
func (e *engine) matched(r *recvOp, msg *message) {
	if msg.rndv && !e.yield {
		r.expectTransfer(msg.size)
	}
	switch {
	case msg.pushed:
		e.matchedPushed(r, msg)
	case msg.rndv && msg.remote.addr != 0 && e.pullBody(r, msg):
		// the body was copied out of the sender's memory
	case msg.rndv:
		// Answer at once when the transport can without blocking: a
		// goroutine hop costs a thread wake-up on each rendezvous.
		source, id := msg.env.source, msg.id
		if e.trySendFrame(source, comm.Header{Kind: kindCTS, Seq: id}) {
			return
		}
		e.countSend(source) // before Deliver returns: see countSend
		e.goAsync(func() { e.clearToSend(source, id) })
	default:
		if msg.selfAck != nil {
			msg.selfAck()
		}
		if msg.ackID != 0 {
			e.acknowledge(msg.env.source, msg.ackID, r)
			return
		}
		r.finish(nil)
	}
}

// matchedPushed finishes r, which took the pushed message msg, when its
// body came before (bodyIn) or never will (its sender was lost); else the
// body's arrival finishes r, or the loss of its sender fails it, through
// e.recvs.
func (e *engine) matchedPushed(r *recvOp, msg *message) {
	key := rndvKey{msg.env.source, msg.id}
	e.mu.Lock()
	mine := e.recvs[key] == r
	if mine && (msg.bodyIn || msg.lost != nil) {
		// A collective's drain may have been recorded as waiting.
		delete(e.recvs, key)
	}
	in, lost := msg.bodyIn, msg.lost
	e.mu.Unlock()
	switch {
	case in:
		r.finish(nil)
	case lost != nil && mine:
		r.finish(lost)
	}
}

// acknowledge tells the sender of a small sync message that a receive took
// it (a clear-to-send with no body to follow) and finishes r, the receive,
// once the acknowledgement is out. When it cannot leave at once (no
// connection to source yet), r waits for it: finished first, r's caller
// could compute on the rank's one P while the goroutine carrying the
// acknowledgement waits for the next preemption, 10 ms or more, and the
// sender with it (as for a pulled body's clear-to-send, see pulled).
func (e *engine) acknowledge(source int, id uint64, r *recvOp) {
	e.finishOnceSent(r, source, comm.Header{Kind: kindCTS, Seq: id})
}

// finishOnceSent sends the control frame h to dest and finishes r once it
// is out: at once when the transport takes it at once, else from the
// goroutine that waits for dest's connection (see acknowledge). A dest that
// is gone finishes r all the same (PeerGone reports it; r has its body).
func (e *engine) finishOnceSent(r *recvOp, dest int, h comm.Header) {
	r.acking.Store(true)
	sent := e.trySendFrame(dest, h)
	// Cleared before the finish: once finished, r may be recycled.
	r.acking.Store(false)
	if sent {
		r.finish(nil)
		return
	}
	e.countSend(dest) // before the caller returns: see countSend
	e.goAsync(func() {
		if e.t.Send(context.Background(), dest, h, nil) != nil {
			e.uncountSend(dest)
		}
		r.finish(nil)
	})
}

// goAsync runs f, which sends a frame, on a goroutine of its own that
// Finalize waits for before it closes the transport. Once Finalize has
// begun that wait, f still runs, uncounted: it races with the closing
// transport, which may refuse its frame (f then uncounts it), as any frame
// sent while the rank finalizes may be.
func (e *engine) goAsync(f func()) {
	e.asyncMu.Lock()
	if e.asyncClosed {
		e.asyncMu.Unlock()
		go f()
		return
	}
	e.async.Add(1)
	e.asyncMu.Unlock()
	go func() {
		defer e.async.Done()
		f()
	}()
}

// awaitAsync waits for the goroutines goAsync counted; none is counted
// after it begins.
func (e *engine) awaitAsync() {
	e.asyncMu.Lock()
	e.asyncClosed = true
	e.asyncMu.Unlock()
	e.async.Wait()
}

// clearToSend tells a rendezvous sender that its message matched. It runs
// on its own goroutine: the transport's reader must never block on a write.
// The frame was counted as sent by whoever started the goroutine.
func (e *engine) clearToSend(source int, id uint64) {
	err := e.t.Send(context.Background(), source, comm.Header{Kind: kindCTS, Seq: id}, nil)
	if err != nil {
		e.uncountSend(source)
		e.mu.Lock()
		r := e.recvs[rndvKey{source, id}]
		delete(e.recvs, rndvKey{source, id})
		e.mu.Unlock()
		if r != nil {
			r.finish(peerError(source, err))
		}
		return
	}
}

// PeerGone is called by the transport when rank will send nothing more.
// Operations that can no longer complete fail with ErrPeerLost; messages
// already received stay receivable.
func (e *engine) PeerGone(rank int, cause error) {
	if rank < 0 || rank >= e.size {
		return
	}
	err := peerError(rank, cause)
	e.mu.Lock()
	if e.gone[rank] != nil {
		e.mu.Unlock()
		return
	}
	e.gone[rank] = err
	e.goneLeft--
	allGone := e.goneLeft == 0
	failed := e.match.takePosted(func(r *recvOp) bool {
		return r.source == rank || (r.source == AnySource && allGone)
	})
	var failedRecvs []*recvOp
	for key, r := range e.recvs {
		if key.source == rank {
			failedRecvs = append(failedRecvs, r)
			delete(e.recvs, key)
		}
	}
	for key, m := range e.pushed {
		if key.source == rank {
			m.lost = err // its body will never come: the receive that takes it fails
			delete(e.pushed, key)
		}
	}
	var failedSends []*sendOp
	for id, op := range e.sends {
		if op.dest == rank {
			failedSends = append(failedSends, op)
			delete(e.sends, id)
		}
	}
	wake := e.takeArrival(true)
	e.mu.Unlock()
	if wake != nil {
		wake.finish(nil)
	}
	for _, r := range failed {
		r.finish(err)
	}
	for _, r := range failedRecvs {
		r.finish(err)
	}
	for _, op := range failedSends {
		op.finish(err)
	}
}

// peerError wraps a transport's reason for losing rank in ErrPeerLost.
func peerError(rank int, cause error) error {
	return fmt.Errorf("%w: rank %d: %w", ErrPeerLost, rank, cause)
}

// postRecv posts a receive; it may complete at once.
func (e *engine) postRecv(ctx uint32, source, tag int) *recvOp {
	return e.postRecvInto(ctx, source, tag, nil)
}

// postRecvBytes posts a receive whose rendezvous body, whatever its
// descriptor, may be read straight into buf when it fits.
func (e *engine) postRecvBytes(ctx uint32, source, tag int, buf []byte) *recvOp {
	return e.post(&recvOp{ctx: ctx, source: source, tag: tag, into: buf, intoBytes: true})
}

// postRecvInto posts a receive whose rendezvous body may be read straight
// into the buffer ptr points to (see directTarget); ptr may be nil.
func (e *engine) postRecvInto(ctx uint32, source, tag int, ptr any) *recvOp {
	r := &recvOp{ctx: ctx, source: source, tag: tag}
	r.into, r.intoKind = directTarget(ptr)
	return e.post(r)
}

// post posts r; it may complete at once.
func (e *engine) post(r *recvOp) *recvOp {
	source := r.source
	r.init()
	e.mu.Lock()
	if e.closed != nil {
		e.mu.Unlock()
		r.finish(e.closed)
		return r
	}
	msg := e.match.post(r)
	if msg != nil {
		r.msg = msg
		e.awaitBody(r, msg)
		e.mu.Unlock()
		e.matched(r, msg)
		return r
	}
	var err error
	switch {
	case source != AnySource && e.gone[source] != nil:
		err = e.gone[source]
	case source == AnySource && e.size > 1 && e.goneLeft == 0:
		err = fmt.Errorf("%w: every other rank has finished or died", ErrPeerLost)
	}
	if err != nil {
		e.match.cancel(r)
	}
	e.mu.Unlock()
	if err != nil {
		r.finish(err)
	}
	return r
}

// cancelRecv withdraws a posted receive that has not matched; false when it
// already matched (it will complete).
func (e *engine) cancelRecv(r *recvOp) bool {
	e.mu.Lock()
	ok := e.match.cancel(r)
	e.mu.Unlock()
	return ok
}

// probed describes a message a probe found: copied under the engine's
// lock, since a receive may take (and recycle) the message right after.
type probed struct {
	env  envelope
	size int // bytes of body, without the descriptor
}

// probe describes the oldest unexpected message a receive (ctx, source,
// tag) would take (found is false when there is none); err when no such
// message can arrive any more.
func (e *engine) probe(ctx uint32, source, tag int) (p probed, found bool, err error) {
	r := recvOp{ctx: ctx, source: source, tag: tag}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed != nil {
		return p, false, e.closed
	}
	if msg := e.match.peek(&r); msg != nil {
		return probed{env: msg.env, size: bodySize(msg)}, true, nil
	}
	if source != AnySource && e.gone[source] != nil {
		return p, false, e.gone[source]
	}
	if source == AnySource && e.size > 1 && e.goneLeft == 0 {
		return p, false, fmt.Errorf("%w: every other rank has finished or died", ErrPeerLost)
	}
	return p, false, nil
}

// MaxMessageSize is the largest message body (in bytes) a rank sends or
// accepts: 16 GiB. A send of more fails with ErrTooLarge; an announcement
// of more from another process is dropped, so a hostile one cannot make a
// rank allocate what it claims.
const MaxMessageSize = 16 << 30

// CopyDelayEnv names a test-only environment variable: a duration (e.g.
// "2s") added to every rendezvous body's copy, on the sending side (before
// the body leaves), on the receiving side (before a received body completes
// its receive) and in a single copy out of the sender's memory. It makes
// copies slow on any machine, so tests can check that gorun never takes a
// job that is moving data for a deadlock.
const CopyDelayEnv = "GORUN_TEST_COPY_DELAY"

// slowCopy adds the test-only copy delay, if any.
func (e *engine) slowCopy() {
	if e.copyDelay > 0 {
		time.Sleep(e.copyDelay)
	}
}

// unmatched lists up to max user messages (point to point, not a
// collective's) that arrived and wait for a receive, oldest first, for
// deadlock reports.
func (e *engine) unmatched(max int) []control.Unmatched {
	type arrived struct {
		n   uint64
		env envelope
	}
	var all []arrived
	e.mu.Lock()
	for _, sq := range e.match.unexpected.queues {
		for i := sq.head; i < len(sq.msgs); i++ {
			if env := sq.msgs[i].env; env.ctx%2 == 0 { // odd contexts are collectives'
				all = append(all, arrived{sq.arrival[i], env})
			}
		}
	}
	e.mu.Unlock()
	slices.SortFunc(all, func(a, b arrived) int { return cmp.Compare(a.n, b.n) })
	out := make([]control.Unmatched, 0, min(max, len(all)))
	for _, a := range all[:min(max, len(all))] {
		out = append(out, control.Unmatched{Source: a.env.source, Tag: a.env.tag, Comm: a.env.ctx})
	}
	return out
}
