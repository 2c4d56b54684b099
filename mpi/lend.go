package mpi

import (
	"math/bits"
	"unsafe"
)

// Small eager messages cost no allocation on their way in: a transport that
// asks (comm.BufferProvider) reads the payload into a spare buffer that the
// message struct keeps across recycling, and the receive copies the message
// out of it, into the target's own memory when it has room (see
// decodeWith), before the struct serves the next arrival. Payloads above
// lendLimit, and rendezvous bodies, are read into fresh memory or the
// target's (engine.bodyTarget) that the receive's value then keeps.

// lendLimit is the payload length from which a message's body is not read
// into a message's spare buffer but into fresh memory, which the receive's
// value then keeps: beyond the default eager limit (and its descriptor),
// where only a user's larger eager limit sends messages eagerly, spare
// buffers kept for the next messages would hold too much memory.
const lendLimit = 2 * DefaultEagerLimit

// minSpare is the smallest spare buffer a message gets: what the payload of
// a message of one number takes (its descriptor and 8 bytes) in Go's size
// classes. Spare buffers grow by powers of two, so that a message struct
// recycled for messages of varying sizes soon has room for all of them. A
// message holds at most twice its payload (or minSpare) in its spare, or
// the spare of a larger message that the struct carried before (of which
// there are no more than messages were held at once).
const minSpare = 16

// lend returns memory for an eager payload of length bytes from source:
// the spare buffer of a message that Deliver takes up for that frame (see
// lent). The transport calls it, then Deliver, for one source's frames in
// order and never concurrently, so arriving[source] needs no lock.
func (e *engine) lend(source, length int) []byte {
	if source < 0 || source >= e.size || length <= 0 || length >= lendLimit {
		return nil
	}
	m := e.newMessage()
	if cap(m.spare) < length {
		m.spare = make([]byte, 0, max(minSpare, 1<<bits.Len(uint(length-1))))
	}
	e.arriving[source] = m
	return m.spare[:length]
}

// lent returns the message whose spare buffer holds payload, lent for it by
// lend, marked as borrowing it; else a fresh message.
func (e *engine) lent(source int, payload []byte) *message {
	m := e.arriving[source]
	if m == nil || len(payload) == 0 || unsafe.SliceData(payload) != unsafe.SliceData(m.spare) {
		return e.newMessage()
	}
	e.arriving[source] = nil
	m.borrowed = true
	return m
}
