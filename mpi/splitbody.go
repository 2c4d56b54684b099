package mpi

import (
	"reflect"

	"github.com/gorun-mpi/gorun/comm"
)

// An eager message of numbers that comes through a shared-memory ring
// while its receive is posted is read straight into the receive's buffer:
// the transport shows the engine the message's descriptor first
// (comm.SplitBufferProvider), the engine matches the message then, and the
// transport copies the numbers out of the ring into the receive's memory,
// the descriptor into the spare buffer of the message struct that carries
// it. The message crosses memory twice (into the ring, out of it) instead
// of three times (out of the ring into a spare buffer, then into the
// receive's), as MPI libraries copy a small message out of their shared
// memory into the receiver's buffer.
//
// The match is made under the engine's lock when the descriptor is read,
// not when the frame is delivered: the receive leaves the posted queue
// then, so that no other arrival takes it meanwhile, and the frame's
// Deliver (which follows before anything else from that source: see
// comm.SplitBufferProvider) finishes it. Only receives that cannot be
// withdrawn take part (target is set: no context), and only when the
// first posted receive that accepts the message is one whose slice has the
// room and the numbers' kind; else the message goes the usual way, and the
// receive decides as before (a mismatch is reported, and the receive's
// memory is left as it was).

// SplitBuffers implements comm.SplitBufferProvider (see above).
func (e *engine) SplitBuffers(h comm.Header, length int, first []byte) (head, body []byte) {
	source := int(h.Source)
	if h.Kind != kindEager || length < comm.SplitThreshold || length >= lendLimit ||
		source < 0 || source >= e.size || len(first) < rawDescLen || first[0] != fmtRaw {
		return nil, nil
	}
	kind := reflect.Kind(first[1])
	size, ok := rawKindSize(kind)
	n := length - rawDescLen
	if !ok || n%size != 0 {
		return nil, nil
	}
	r := e.claimPosted(envelope{ctx: h.Context, source: source, tag: int(h.Tag)}, kind, n)
	if r == nil {
		return nil, nil
	}
	m := e.newMessage()
	if cap(m.spare) < rawDescLen {
		m.spare = make([]byte, 0, minSpare)
	}
	m.body, m.claimed = r.into[:n], r
	e.arriving[source] = m
	return m.spare[:rawDescLen], m.body
}

// claimPosted takes out of the posted queue the receive that a message
// with envelope env would match, when that receive can take a body of n
// bytes of numbers of kind straight into its own memory (r.into is set
// to it then); else it changes nothing and returns nil.
func (e *engine) claimPosted(env envelope, kind reflect.Kind, n int) *recvOp {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, r := range e.match.posted {
		if !r.accepts(env) {
			continue
		}
		if r.target == nil || r.msg != nil {
			return nil
		}
		into, intoKind := directTarget(r.target)
		if len(into) < n || !sameRawKind(intoKind, kind) {
			return nil
		}
		e.match.posted = removeAt(e.match.posted, i)
		r.into, r.intoKind, r.target = into, intoKind, nil
		return r
	}
	return nil
}

// arriveClaimed finishes the delivery of msg, whose receive claimPosted
// took when its descriptor was read: its body is in the receive's memory,
// its descriptor in head.
func (e *engine) arriveClaimed(msg *message, head []byte) {
	r := msg.claimed
	msg.claimed, msg.head = nil, head
	msg.size = len(head) + len(msg.body)
	e.directEager.Add(1)
	e.mu.Lock()
	r.msg = msg
	e.mu.Unlock()
	e.matched(r, msg)
}
