package collectives

import (
	"encoding/binary"
)

// Collective messages that may have to carry a failure start with a 16-byte
// header (a multiple of 8, so numeric data after it stays aligned and can be
// decoded without a copy):
//
//	byte 0     status: statusOK, or statusFailed for a failure frame
//	byte 1     algorithm id (statusOK) or failure code (statusFailed)
//	byte 2     flags: flagNoData when a reduction operand travels without
//	           its data (the agreement round before a ring allreduce)
//	byte 3     zero
//	bytes 4-7  a rank, little endian: the lowest rank whose data the message
//	           carries, or the rank that failed
//	bytes 8-15 a count, little endian: elements of a slice, parts of a
//	           bundle, or bytes of a failure's text
//
// A failure frame's body is the failed rank's error text. Data phases that
// start only after every rank has agreed that nothing failed (ring
// allreduce, the data of a large broadcast) send bare data instead.
const headerLen = 16

const (
	statusOK     byte = 0
	statusFailed byte = 1
)

// flagNoData marks a header sent without the data it describes.
const flagNoData byte = 1

type header struct {
	status byte
	alg    byte
	flags  byte
	rank   uint32
	count  uint64
}

// frame returns h followed by body in a new buffer.
func frame(h header, body []byte) []byte {
	b := make([]byte, headerLen+len(body))
	b[0], b[1], b[2] = h.status, h.alg, h.flags
	binary.LittleEndian.PutUint32(b[4:], h.rank)
	binary.LittleEndian.PutUint64(b[8:], h.count)
	copy(b[headerLen:], body)
	return b
}

// parseFrame splits a message into its header and body; a failure frame
// comes back as a failure.
func parseFrame(payload []byte) (header, []byte, *failure, error) {
	if len(payload) < headerLen {
		return header{}, nil, nil, failf(ErrProtocol, "%d bytes, shorter than a header", len(payload))
	}
	h := header{
		status: payload[0],
		alg:    payload[1],
		flags:  payload[2],
		rank:   binary.LittleEndian.Uint32(payload[4:]),
		count:  binary.LittleEndian.Uint64(payload[8:]),
	}
	body := payload[headerLen:]
	switch h.status {
	case statusOK:
		return h, body, nil, nil
	case statusFailed:
		if h.count != uint64(len(body)) {
			return h, nil, nil, failf(ErrProtocol, "failure text of %d bytes announced as %d", len(body), h.count)
		}
		return h, nil, &failure{rank: int(h.rank), code: h.alg, msg: string(body)}, nil
	}
	return h, nil, nil, failf(ErrProtocol, "status byte %d", h.status)
}

// failureFrame encodes f for the other ranks.
func failureFrame(f *failure) []byte {
	return frame(header{status: statusFailed, alg: f.code, rank: uint32(f.rank), count: uint64(len(f.msg))}, []byte(f.msg))
}

// readFrame parses a received message; a malformed one becomes this rank's
// own failure, so the caller carries on with the message pattern either way.
func readFrame(me int, payload []byte) (header, []byte, *failure) {
	h, body, f, err := parseFrame(payload)
	if err != nil {
		return h, nil, localFailure(me, err)
	}
	return h, body, f
}

// bundle encodes parts as one body: len(parts) little-endian uint64 lengths,
// then the parts back to back. The count travels in the header.
func bundle(h header, parts [][]byte) []byte {
	total := 8 * len(parts)
	for _, p := range parts {
		total += len(p)
	}
	h.count = uint64(len(parts))
	b := make([]byte, headerLen+total)
	copy(b, frame(h, nil))
	off := headerLen + 8*len(parts)
	for i, p := range parts {
		binary.LittleEndian.PutUint64(b[headerLen+8*i:], uint64(len(p)))
		off += copy(b[off:], p)
	}
	return b
}

// unbundle splits a bundle body into want parts, checking every length
// against what is really there. The parts alias body.
func unbundle(h header, body []byte, want int) ([][]byte, error) {
	if h.count != uint64(want) {
		return nil, failf(ErrProtocol, "bundle of %d parts where %d were expected", h.count, want)
	}
	if uint64(len(body)) < 8*uint64(want) {
		return nil, failf(ErrProtocol, "bundle of %d bytes too short for %d lengths", len(body), want)
	}
	data := body[8*want:]
	parts := make([][]byte, want)
	for i := range parts {
		n := binary.LittleEndian.Uint64(body[8*i:])
		if n > uint64(len(data)) {
			return nil, failf(ErrProtocol, "bundle part %d of %d bytes exceeds the %d left", i, n, len(data))
		}
		parts[i], data = data[:n:n], data[n:]
	}
	if len(data) != 0 {
		return nil, failf(ErrProtocol, "%d stray bytes after a bundle", len(data))
	}
	return parts, nil
}
