package mpi

import (
	"reflect"
	"sync/atomic"
)

// The matching engine's deterministic core: the posted-receive queue and the
// unexpected-message queue, with MPI's matching rules. It is a plain data
// structure with no locks or goroutines (the engine wraps it), so its rules
// are unit-tested synchronously.
//
// Rules: a message matches a receive when their contexts are equal and the
// receive's source and tag are equal to the message's or are AnySource /
// AnyTag. An arriving message goes to the OLDEST matching posted receive; a
// new receive takes the OLDEST matching unexpected message. Since the
// transport delivers the messages of one source in order, messages from one
// sender on one communicator and tag are received in the order sent.

// envelope is what matching looks at. source is a world rank.
type envelope struct {
	ctx    uint32
	source int
	tag    int
}

// message is an arrived message (eager) or announcement (rendezvous RTS).
type message struct {
	env  envelope
	head []byte // rendezvous: the descriptor from the RTS; eager: nil, unless read apart (SplitBuffers)
	body []byte // eager: descriptor and body (body alone when head is set); rendezvous: the body once it arrived
	size int    // payload bytes announced (rendezvous) or held (eager)
	rndv bool   // body follows after a clear-to-send (or unasked: pushed)
	id   uint64 // rendezvous id chosen by the sender
	// pushed: a rendezvous whose body follows unasked (kindRTSPush); it is
	// never recycled (engine.recycleMessage keeps rendezvous messages).
	// bodyIn: its body came before any receive took the message, and
	// waits in body. lost: its sender was lost before its body came. All
	// three change under the engine's lock.
	pushed, bodyIn bool
	lost           error
	// remote, for a kindRTSLocal, locates the body in the sender's memory.
	remote remoteBody
	// selfAck, for a synchronous send to oneself, is called when the
	// message is matched.
	selfAck func()
	// ackID, for a small sync message from another rank, names the send
	// to acknowledge when the message is matched (0: none).
	ackID uint64
	// spare is memory kept across recycling that a small eager payload is
	// read into (engine.lend); borrowed says body lies in it, so that the
	// receive copies the message out before the struct is reused.
	spare    []byte
	borrowed bool
	// claimed, while the frame of an eager message is being read, is the
	// receive that took it when its descriptor was read, whose memory
	// body is (see SplitBuffers); head is the descriptor then.
	claimed *recvOp
}

// recvOp is a posted receive.
type recvOp struct {
	ctx    uint32
	source int // world rank or AnySource
	tag    int // or AnyTag
	msg    *message
	// into, when set, is the receiver's own buffer (as bytes) that a
	// rendezvous body of raw elements of kind intoKind may be read into
	// directly; see engine.BufferFor.
	into     []byte
	intoKind reflect.Kind
	// target, when set, is the pointer a receive decodes into, from which
	// into is made when a rendezvous matches (see engine.bodyTarget): most
	// messages are eager and never need it.
	target any
	// intoBytes: into takes any body (collective payloads, no descriptor).
	intoBytes bool
	// acking: the acknowledgement of the sync message this receive took is
	// being written, and the receive finishes right after it
	// (finishOnceSent). A Test meanwhile waits for that rather than answer
	// "not yet" to a program whose sender may have seen the
	// acknowledgement already (MPICH's rqstatus: the Ssend returned, then a
	// Barrier, then the receiver's Test must find the receive complete).
	acking atomic.Bool
	completion
}

func (r *recvOp) accepts(env envelope) bool {
	return r.ctx == env.ctx &&
		(r.source == AnySource || r.source == env.source) &&
		(r.tag == AnyTag || r.tag == env.tag)
}

type matcher struct {
	posted     []*recvOp
	unexpected unexpectedQueue
	// colls watches the collective contexts this rank has begun calls on,
	// for mismatched calls (see collwatch.go).
	colls map[uint32]*collWatch
	// watchdog: the goroutine that pings the peers of long collective
	// waits runs (see engine.watchColls).
	watchdog bool
}

// unexpectedQueue holds arrived, unmatched messages in one FIFO per source,
// each message numbered in arrival order, so that a receive from a given
// source looks only at that source's messages and a wildcard receive only
// at each source's oldest candidates: a receiver that falls behind by
// hundreds of thousands of messages still matches each in O(sources).
// Queues are indexed by source (world rank) in a slice, not a map: a
// receive looks its source up on every message (a map lookup was 1% of a
// small message's round trip).
type unexpectedQueue struct {
	bySource []*sourceQueue // nil for a source nothing came from yet
	queues   []*sourceQueue // the non-nil entries of bySource
	next     uint64         // arrival number of the next message
	count    int
}

type sourceQueue struct {
	msgs    []*message
	arrival []uint64
	head    int // msgs[:head] were taken
}

// push appends msg to its source's queue.
func (q *unexpectedQueue) push(msg *message) {
	src := msg.env.source
	if src >= len(q.bySource) {
		q.bySource = append(q.bySource, make([]*sourceQueue, src+1-len(q.bySource))...)
	}
	sq := q.bySource[src]
	if sq == nil {
		sq = &sourceQueue{}
		q.bySource[src] = sq
		q.queues = append(q.queues, sq)
	}
	sq.msgs = append(sq.msgs, msg)
	sq.arrival = append(sq.arrival, q.next)
	q.next++
	q.count++
}

// Len returns how many messages wait.
func (q *unexpectedQueue) Len() int { return q.count }

// first returns the oldest message r accepts in sq, and its index.
func (sq *sourceQueue) first(r *recvOp) (int, bool) {
	for i := sq.head; i < len(sq.msgs); i++ {
		if r.accepts(sq.msgs[i].env) {
			return i, true
		}
	}
	return 0, false
}

// find returns the queue and index of the oldest message r accepts.
func (q *unexpectedQueue) find(r *recvOp) (*sourceQueue, int) {
	if r.source != AnySource {
		if r.source < 0 || r.source >= len(q.bySource) {
			return nil, 0
		}
		if sq := q.bySource[r.source]; sq != nil {
			if i, ok := sq.first(r); ok {
				return sq, i
			}
		}
		return nil, 0
	}
	var best *sourceQueue
	bestIndex := 0
	for _, sq := range q.queues {
		if i, ok := sq.first(r); ok && (best == nil || sq.arrival[i] < best.arrival[bestIndex]) {
			best, bestIndex = sq, i
		}
	}
	return best, bestIndex
}

// take removes and returns message i of sq.
func (q *unexpectedQueue) take(sq *sourceQueue, i int) *message {
	msg := sq.msgs[i]
	if i == sq.head {
		sq.msgs[i] = nil
		sq.head++
	} else {
		copy(sq.msgs[i:], sq.msgs[i+1:])
		copy(sq.arrival[i:], sq.arrival[i+1:])
		sq.msgs[len(sq.msgs)-1] = nil
		sq.msgs = sq.msgs[:len(sq.msgs)-1]
		sq.arrival = sq.arrival[:len(sq.arrival)-1]
	}
	q.count--
	switch {
	case sq.head == len(sq.msgs):
		sq.msgs, sq.arrival, sq.head = sq.msgs[:0], sq.arrival[:0], 0
	case sq.head > 1024 && sq.head > len(sq.msgs)/2:
		n := copy(sq.msgs, sq.msgs[sq.head:])
		copy(sq.arrival, sq.arrival[sq.head:])
		clear(sq.msgs[n:])
		sq.msgs, sq.arrival, sq.head = sq.msgs[:n], sq.arrival[:n], 0
	}
	return msg
}

// arrive matches msg against the posted receives. It returns the receive
// that takes it (removed from the posted queue), or nil after queueing msg
// as unexpected.
func (m *matcher) arrive(msg *message) *recvOp {
	for i, r := range m.posted {
		if r.accepts(msg.env) {
			m.posted = removeAt(m.posted, i)
			return r
		}
	}
	if w := m.watch(msg.env.ctx); w != nil {
		if r := m.collArrive(w, msg); r != nil {
			return r
		}
	}
	m.unexpected.push(msg)
	return nil
}

// post matches r against the unexpected messages. It returns the message r
// takes (removed from the unexpected queue), or nil after queueing r as
// posted.
func (m *matcher) post(r *recvOp) *message {
	if msg := m.brokenMessage(r); msg != nil {
		return msg
	}
	if sq, i := m.unexpected.find(r); sq != nil {
		return m.unexpected.take(sq, i)
	}
	m.posted = append(m.posted, r)
	return nil
}

// peek returns the oldest unexpected message a receive like r would take,
// without taking it (Probe).
func (m *matcher) peek(r *recvOp) *message {
	if sq, i := m.unexpected.find(r); sq != nil {
		return sq.msgs[i]
	}
	return nil
}

// cancel removes r from the posted queue; false when it was not there
// (already matched).
func (m *matcher) cancel(r *recvOp) bool {
	for i, p := range m.posted {
		if p == r {
			m.posted = removeAt(m.posted, i)
			return true
		}
	}
	return false
}

// takePosted removes and returns the posted receives for which drop is true.
func (m *matcher) takePosted(drop func(*recvOp) bool) []*recvOp {
	var taken []*recvOp
	kept := m.posted[:0]
	for _, r := range m.posted {
		if drop(r) {
			taken = append(taken, r)
		} else {
			kept = append(kept, r)
		}
	}
	clear(m.posted[len(kept):])
	m.posted = kept
	return taken
}

// removeAt removes s[i]; removing the oldest (i == 0, the usual case) costs
// nothing however long s is. Removing the last one keeps s's memory for
// the next append (a receive posted and matched in turn allocates nothing).
func removeAt[T any](s []*T, i int) []*T {
	if len(s) == 1 {
		s[0] = nil
		return s[:0]
	}
	if i == 0 {
		s[0] = nil
		return s[1:]
	}
	copy(s[i:], s[i+1:])
	s[len(s)-1] = nil
	return s[:len(s)-1]
}
