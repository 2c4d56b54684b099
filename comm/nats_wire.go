package comm

import "encoding/binary"

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
//	[46:54) the payload's total length, then its first chunk; msgChunk
//	carries the next chunk right after the 29-byte header.
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
