package comm

import (
	"encoding/base64"
	"encoding/binary"

	"github.com/nats-io/nats.go"
)

// Wire format of one NATS message of the transport (little endian):
//
//	[0:16)   authenticator: HMAC-SHA256(secret, job id), truncated
//	[16]     message type (msg*)
//	[17:21)  source rank
//	[21:29)  pair sequence (msgFrame, msgFrameStart, msgChunk, msgGoodbye)
//	         or cumulative credit (msgCredit); unused otherwise
//	msgFrame and msgFrameStart continue with the frame header:
//	[29]     kind, [30:34) context, [34:38) tag, [38:46) seq
//	msgFrame continues with the payload. msgFrameStart continues with
//	[46:54) the payload's total length, then its first chunk (any length
//	below the total, even none: see firstChunk); msgChunk carries the
//	next chunk right after the 29-byte header.
//
// A message of a large frame whose bytes are one piece of the sender's
// payload may carry these leading bytes (the fixed part of its type: 29,
// 46 or 54 bytes) in a NATS header instead, natsHeaderKey: the
// base64 (RawURLEncoding) of exactly those bytes; the message's data is
// then the rest alone. The sender hands NATS its caller's memory without
// joining it behind the header first (one copy of the body less), and
// the receiver reads the same fields either way.
//
// The frame's kind travels unread; the transport's own messages (credit,
// goodbye, liveness) are message types, not frame kinds.
const (
	authLen            = 16
	natsCtlHeaderLen   = 29
	natsFrameHeaderLen = 46
	natsStartHeaderLen = 54
	// msgOverhead is what one message costs a receiver beyond its bytes,
	// counted against the credit window.
	msgOverhead = 128
	// natsHeaderKey names the NATS header that carries a message's fixed
	// part (see above).
	natsHeaderKey = "Gorun"
	// natsHeaderReserve bounds what the NATS header block of such a
	// message costs against the server's max_payload: "NATS/1.0\r\n",
	// "Gorun: " and the 72-character base64 of 54 bytes, "\r\n\r\n" (93
	// bytes), with room to spare.
	natsHeaderReserve = 128
	// natsHeaderedMin is the smallest data of a message worth the NATS
	// header (a map and a few small allocations at each end), and the
	// smallest frame whose messages are sized for it.
	natsHeaderedMin = 64 << 10
)

// Message types.
const (
	msgFrame      byte = 1 // a whole frame
	msgFrameStart byte = 2 // the header and first chunk of a large frame
	msgChunk      byte = 3 // a further chunk of the frame being assembled
	msgCredit     byte = 4 // receiver to sender: cumulative cost consumed
	msgGoodbye    byte = 5 // sender finished: nothing more follows
	msgAlive      byte = 6 // broadcast: my inbox is subscribed; I am alive
	msgAliveAck   byte = 7 // direct answer to msgAlive: mine is too
)

// putCtl writes the control header into b[:natsCtlHeaderLen].
func (t *NATS) putCtl(b []byte, typ byte, value uint64) {
	copy(b[:authLen], t.auth[:])
	b[16] = typ
	binary.LittleEndian.PutUint32(b[17:21], uint32(t.cfg.Rank))
	binary.LittleEndian.PutUint64(b[21:29], value)
}

// putFrameHeader writes h into b[natsCtlHeaderLen:natsFrameHeaderLen].
func putFrameHeader(b []byte, h Header) {
	b[29] = byte(h.Kind)
	binary.LittleEndian.PutUint32(b[30:34], h.Context)
	binary.LittleEndian.PutUint32(b[34:38], uint32(h.Tag))
	binary.LittleEndian.PutUint64(b[38:46], h.Seq)
}

// getFrameHeader reads the frame header of a msgFrame or msgFrameStart.
func getFrameHeader(b []byte, source int) Header {
	return Header{
		Kind:    Kind(b[29]),
		Context: binary.LittleEndian.Uint32(b[30:34]),
		Source:  int32(source),
		Tag:     int32(binary.LittleEndian.Uint32(b[34:38])),
		Seq:     binary.LittleEndian.Uint64(b[38:46]),
	}
}

// fixedLen is the length of the fixed part of a message of type typ: what
// precedes its data.
func fixedLen(typ byte) int {
	switch typ {
	case msgFrame:
		return natsFrameHeaderLen
	case msgFrameStart:
		return natsStartHeaderLen
	}
	return natsCtlHeaderLen
}

// headered returns the NATS header that carries fixed, a message's fixed
// part (see natsHeaderKey).
func headered(fixed []byte) nats.Header {
	return nats.Header{natsHeaderKey: []string{base64.RawURLEncoding.EncodeToString(fixed)}}
}

// splitMessage returns the fixed part of m (its type's length, or less
// when m is too short for it: the caller reports that) and its data. A
// fixed part that came in the NATS header is decoded into buf. ok is
// false when that header does not hold a fixed part.
func splitMessage(m *nats.Msg, buf *[natsStartHeaderLen]byte) (fixed, data []byte, ok bool) {
	enc, has := m.Header[natsHeaderKey]
	if !has {
		b := m.Data
		if len(b) < natsCtlHeaderLen {
			return b, nil, true
		}
		n := min(fixedLen(b[16]), len(b))
		return b[:n], b[n:], true
	}
	if len(enc) != 1 || base64.RawURLEncoding.DecodedLen(len(enc[0])) > len(buf) {
		return nil, nil, false
	}
	n, err := base64.RawURLEncoding.Decode(buf[:], []byte(enc[0]))
	if err != nil || n < natsCtlHeaderLen || n != fixedLen(buf[16]) {
		return nil, nil, false
	}
	return buf[:n], m.Data, true
}
