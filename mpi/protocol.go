package mpi

import (
	"encoding/binary"

	"github.com/gorun-mpi/gorun/comm"
)

// The message protocol between ranks: the kinds of the frames the engine
// sends, and what their header fields and payloads mean. The transport
// carries them unread (comm.Header's fields are the engine's, but Source).
//
//	kindEager     a whole message: Context, Tag; Seq names a small sync
//	              send to acknowledge (0: none); payload: descriptor + body
//	kindRTS       rendezvous request to send: Context, Tag; Seq names the
//	              send; payload: the body's size (8 bytes), then the
//	              descriptor
//	kindRTSLocal  a kindRTS whose body the receiver may copy straight out
//	              of the sender's memory (comm.PeerMemoryReader): payload:
//	              the body's size and address (8 bytes each), then the
//	              descriptor
//	kindRTSShared a kindRTSLocal whose sender waits in its Send and can
//	              write into the receiver's memory (comm.PeerMemoryWriter):
//	              the receiver may ask it to copy a share of the body
//	              (see share.go); payload as kindRTSLocal
//	kindCTS       clear to send: Seq names the send; Tag ctsPulled says the
//	              receiver copied the body already (nothing follows);
//	              Tag ctsShare asks the sender of a kindRTSShared to write
//	              the body from an offset on into the receiver's memory:
//	              payload: the address of the receiver's buffer and the
//	              offset (8 bytes each); the send then completes with a
//	              ctsPulled, or with a plain clear-to-send (the body
//	              follows, whole, as kindRndvData)
//	kindWritten   the sender of a kindRTSShared wrote its share: Seq names
//	              the send; Tag writeFailed says it could not
//	kindRndvData  a rendezvous body: Seq names the send; payload: the body
//	kindRTSPush   a kindRTS whose body follows at once, unasked, as
//	              kindRndvData (engine.pushLimit): no clear-to-send
//	              answers it; payload as kindRTS
const (
	kindEager     comm.Kind = 1
	kindRTS       comm.Kind = 2
	kindCTS       comm.Kind = 3
	kindRndvData  comm.Kind = 4
	kindRTSLocal  comm.Kind = 5
	kindRTSShared comm.Kind = 6
	kindWritten   comm.Kind = 7
	kindRTSPush   comm.Kind = 8
)

// ctsPulled marks, in a clear-to-send's Tag, that the receiver already
// copied the body; ctsShare asks the sender to write its share.
const (
	ctsPulled = 1
	ctsShare  = 2
)

// writeFailed marks, in a kindWritten's Tag, that the sender could not
// write its share.
const writeFailed = 1

// rtsHeaderLen and rtsLocalHeaderLen are the lengths of what precedes the
// descriptor in a kindRTS and a kindRTSLocal payload.
const (
	rtsHeaderLen      = 8
	rtsLocalHeaderLen = 16
)

// remoteBody locates a body in the sender's memory.
type remoteBody struct {
	addr uint64
	// sharing: the sender may write a share of the body (kindRTSShared).
	sharing bool
	// share, once the receiver asked for it, is the copy both sides make.
	share *sharedCopy
}

// encodeRTS builds the payload of a rendezvous request announcing a body
// of size bytes described by desc; addr, when not 0, is the body's address
// for a kindRTSLocal.
func encodeRTS(size uint64, addr uint64, desc []byte) []byte {
	n := rtsHeaderLen
	if addr != 0 {
		n = rtsLocalHeaderLen
	}
	out := make([]byte, 0, n+len(desc))
	out = binary.LittleEndian.AppendUint64(out, size)
	if addr != 0 {
		out = binary.LittleEndian.AppendUint64(out, addr)
	}
	return append(out, desc...)
}

// decodeRTS parses the payload of a rendezvous request of kind (kindRTS,
// kindRTSPush, kindRTSLocal or kindRTSShared); ok is false when it is malformed (too short, no address).
func decodeRTS(kind comm.Kind, payload []byte) (size uint64, remote remoteBody, desc []byte, ok bool) {
	local := kind == kindRTSLocal || kind == kindRTSShared
	n := rtsHeaderLen
	if local {
		n = rtsLocalHeaderLen
	}
	if len(payload) < n {
		return 0, remoteBody{}, nil, false
	}
	size = binary.LittleEndian.Uint64(payload)
	if local {
		remote.addr = binary.LittleEndian.Uint64(payload[8:])
		remote.sharing = kind == kindRTSShared
		if remote.addr == 0 {
			return 0, remoteBody{}, nil, false
		}
	}
	return size, remote, payload[n:len(payload):len(payload)], true
}

// shareRequestLen is the length of a ctsShare clear-to-send's payload.
const shareRequestLen = 16

// encodeShareRequest builds a ctsShare's payload: the sender is to write
// its body from offset on to addr+offset.
func encodeShareRequest(addr, offset uint64) []byte {
	out := make([]byte, 0, shareRequestLen)
	out = binary.LittleEndian.AppendUint64(out, addr)
	return binary.LittleEndian.AppendUint64(out, offset)
}

// decodeShareRequest parses a ctsShare's payload; ok is false when it is
// malformed (wrong length, no address).
func decodeShareRequest(payload []byte) (addr, offset uint64, ok bool) {
	if len(payload) != shareRequestLen {
		return 0, 0, false
	}
	addr = binary.LittleEndian.Uint64(payload)
	offset = binary.LittleEndian.Uint64(payload[8:])
	return addr, offset, addr != 0
}
