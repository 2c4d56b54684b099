package comm

import (
	"encoding/binary"
	"fmt"
)

// The Unix transport's wire format, little-endian.
//
// Handshake, dialer to acceptor: the 8-byte magic, the dialer's rank (uint32),
// the secret's length (uint16) and the secret. The acceptor answers a peer
// that authenticated with one byte: handshakeOK or handshakeRing (accepted),
// handshakeClosing (it is closing: its goodbye follows) or handshakeRefused
// (a rank it counts gone or is connected to already). It closes, with no
// answer, a connection whose handshake fails (wrong magic, rank or secret),
// and one that comes while it closes (accepted, or left in its backlog
// when its listener closes).
//
// Frame: a 32-byte header, then the payload.
//
//	[0]      kind
//	[1:4]    zero
//	[4:8]    context
//	[8:12]   tag (int32)
//	[12:16]  ordinal: zero, or on a connection with a shared-memory ring
//	         the frame's place among the data frames of the connection
//	         (see unix_ring.go)
//	[16:24]  seq
//	[24:32]  payload length
//
// The kinds of the layer above travel unread; of the kinds reserved for
// transports only unixGoodbye and unixWake are used. The source is not on the wire: it is
// the rank the connection authenticated as, so a peer cannot claim another
// rank's identity.
const (
	frameHeaderLen = 32
	handshakeMagic = "GORUNv2\x00"
	handshakeOK    = 'K'
	maxSecretLen   = 1024
	// unixGoodbye is the frame a rank sends last on a connection when it
	// closes cleanly; it is never delivered.
	unixGoodbye = FirstReservedKind + 0x0F
	// unixWake wakes a reader that sleeps while its shared-memory ring
	// has records; it is never delivered.
	unixWake = FirstReservedKind + 0x0E
	// handshakeRing answers a handshake that passed a ring: accepted.
	handshakeRing = 'R'
	// handshakeClosing answers a handshake that came while the acceptor
	// closes: it finished, and its goodbye is on its way.
	handshakeClosing = 'C'
	// handshakeRefused answers a valid handshake from a rank the acceptor
	// has already counted gone, or already has a connection from.
	handshakeRefused = 'N'
)

// encodeHeader writes h and the payload length into b[:frameHeaderLen].
func encodeHeader(b []byte, h *Header, payloadLen int) {
	b[0] = byte(h.Kind)
	b[1], b[2], b[3] = 0, 0, 0
	binary.LittleEndian.PutUint32(b[4:], h.Context)
	binary.LittleEndian.PutUint32(b[8:], uint32(h.Tag))
	binary.LittleEndian.PutUint32(b[12:], 0)
	binary.LittleEndian.PutUint64(b[16:], h.Seq)
	binary.LittleEndian.PutUint64(b[24:], uint64(payloadLen))
}

// putOrdinal writes a frame's ordinal into its encoded header b.
func putOrdinal(b []byte, ord uint32) {
	binary.LittleEndian.PutUint32(b[12:], ord)
}

// decodeHeader parses a frame header from b[:frameHeaderLen], checking what
// can be checked before the payload is read: a kind of the layer above or
// the goodbye, zero padding, a zero ordinal, and a payload length within
// maxFrame. It allocates nothing.
func decodeHeader(b []byte, source int, maxFrame uint64) (Header, uint64, error) {
	var h Header
	length, ord, err := decodeFrameHeader(&h, b, source, maxFrame)
	if err == nil && (ord != 0 || h.Kind == unixWake) {
		return h, 0, fmt.Errorf("frame header % x: %w", [frameHeaderLen]byte(b), ErrBadFrame)
	}
	return h, length, err
}

// decodeFrameHeader is decodeHeader for a connection with a ring: it
// returns the ordinal, and accepts the wake-up kind too. It writes the
// header into h field by field: a Header is too large for the compiler to
// keep in registers, and one built apart and then copied whole is read
// back 16 bytes at a time over the fields' narrower stores, which the CPU
// cannot forward (a stall of some 20 cycles; issue 17's profile of a small
// message's round trip).
func decodeFrameHeader(h *Header, b []byte, source int, maxFrame uint64) (uint64, uint32, error) {
	_ = b[frameHeaderLen-1] // one bounds check for every field
	h.Kind = Kind(b[0])
	h.Context = binary.LittleEndian.Uint32(b[4:])
	h.Source = int32(source)
	h.Tag = int32(binary.LittleEndian.Uint32(b[8:]))
	h.Seq = binary.LittleEndian.Uint64(b[16:])
	ord := binary.LittleEndian.Uint32(b[12:])
	length := binary.LittleEndian.Uint64(b[24:])
	if (h.Kind >= FirstReservedKind && h.Kind != unixGoodbye && h.Kind != unixWake) || b[1]|b[2]|b[3] != 0 {
		return 0, 0, fmt.Errorf("frame header % x: %w", [frameHeaderLen]byte(b), ErrBadFrame)
	}
	if length > maxFrame {
		return 0, 0, fmt.Errorf("frame of %d bytes, limit %d: %w", length, maxFrame, ErrFrameTooLarge)
	}
	return length, ord, nil
}
