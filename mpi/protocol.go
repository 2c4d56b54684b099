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
//	kindCTS       clear to send: Seq names the send; Tag ctsPulled says the
//	              receiver copied the body already (nothing follows)
//	kindRndvData  a rendezvous body: Seq names the send; payload: the body
const (
	kindEager    comm.Kind = 1
	kindRTS      comm.Kind = 2
	kindCTS      comm.Kind = 3
	kindRndvData comm.Kind = 4
	kindRTSLocal comm.Kind = 5
)

// ctsPulled marks, in a clear-to-send's Tag, that the receiver already
// copied the body.
const ctsPulled = 1

// rtsHeaderLen and rtsLocalHeaderLen are the lengths of what precedes the
// descriptor in a kindRTS and a kindRTSLocal payload.
const (
	rtsHeaderLen      = 8
	rtsLocalHeaderLen = 16
)

// remoteBody locates a body in the sender's memory.
type remoteBody struct {
	addr uint64
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

// decodeRTS parses the payload of a rendezvous request of kind (kindRTS or
// kindRTSLocal); ok is false when it is malformed (too short, no address).
func decodeRTS(kind comm.Kind, payload []byte) (size uint64, remote remoteBody, desc []byte, ok bool) {
	n := rtsHeaderLen
	if kind == kindRTSLocal {
		n = rtsLocalHeaderLen
	}
	if len(payload) < n {
		return 0, remoteBody{}, nil, false
	}
	size = binary.LittleEndian.Uint64(payload)
	if kind == kindRTSLocal {
		remote.addr = binary.LittleEndian.Uint64(payload[8:])
		if remote.addr == 0 {
			return 0, remoteBody{}, nil, false
		}
	}
	return size, remote, payload[n:len(payload):len(payload)], true
}
