package mpi

import "reflect"

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
	head []byte // rendezvous: the descriptor from the RTS; eager: nil
	body []byte // eager: descriptor and body; rendezvous: the body once it arrived
	size int    // payload bytes announced (rendezvous) or held (eager)
	rndv bool   // body follows after a clear-to-send
	id   uint64 // rendezvous id chosen by the sender
	// remote, for a KindRTSLocal, locates the body in the sender's memory.
	remote remoteBody
	// selfAck, for a synchronous send to oneself, is called when the
	// message is matched.
	selfAck func()
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
	// intoBytes: into takes any body (collective payloads, no descriptor).
	intoBytes bool
	completion
}

func (r *recvOp) accepts(env envelope) bool {
	return r.ctx == env.ctx &&
		(r.source == AnySource || r.source == env.source) &&
		(r.tag == AnyTag || r.tag == env.tag)
}

type matcher struct {
	posted     []*recvOp
	unexpected []*message
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
	m.unexpected = append(m.unexpected, msg)
	return nil
}

// post matches r against the unexpected messages. It returns the message r
// takes (removed from the unexpected queue), or nil after queueing r as
// posted.
func (m *matcher) post(r *recvOp) *message {
	if i := m.find(r); i >= 0 {
		msg := m.unexpected[i]
		m.unexpected = removeAt(m.unexpected, i)
		return msg
	}
	m.posted = append(m.posted, r)
	return nil
}

// peek returns the oldest unexpected message a receive like r would take,
// without taking it (Probe).
func (m *matcher) peek(r *recvOp) *message {
	if i := m.find(r); i >= 0 {
		return m.unexpected[i]
	}
	return nil
}

func (m *matcher) find(r *recvOp) int {
	for i, msg := range m.unexpected {
		if r.accepts(msg.env) {
			return i
		}
	}
	return -1
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

func removeAt[T any](s []*T, i int) []*T {
	copy(s[i:], s[i+1:])
	s[len(s)-1] = nil
	return s[:len(s)-1]
}
