package mpi

import (
	"bytes"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
)

// TestRTSRoundTrip: what encodeRTS writes, decodeRTS reads back, for every
// kind of rendezvous request.
func TestRTSRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		kind comm.Kind
		size uint64
		addr uint64
		desc []byte
	}{
		{kindRTS, 1 << 20, 0, []byte{fmtRaw, 8, 0, 0, 0, 0, 0, 0}},
		{kindRTS, 0, 0, nil},
		{kindRTSLocal, MaxMessageSize, 0x7f00_1234_5678, []byte{fmtMsgpack, 3, 'i', 'n', 't'}},
		{kindRTSShared, 16 << 20, 0x7f00_0000_1000, []byte{fmtRaw, 8}},
	} {
		size, remote, desc, ok := decodeRTS(tc.kind, encodeRTS(tc.size, tc.addr, tc.desc))
		if !ok || size != tc.size || remote.addr != tc.addr || !bytes.Equal(desc, tc.desc) || remote.sharing != (tc.kind == kindRTSShared) {
			t.Errorf("kind %d: decoded %d, %#x, %q, %v; want %d, %#x, %q", tc.kind, size, remote.addr, desc, ok, tc.size, tc.addr, tc.desc)
		}
	}
}

// FuzzDecodeRTS: whatever a rendezvous request's payload holds, decodeRTS
// neither panics nor reads past it, accepts a local request only with an
// address, and what it accepts encodes back to the same bytes; so does
// decodeShareRequest with the same bytes as a ctsShare's payload.
func FuzzDecodeRTS(f *testing.F) {
	f.Add(byte(kindRTS), encodeRTS(100, 0, []byte{fmtRaw, 8, 0, 0, 0, 0, 0, 0}))
	f.Add(byte(kindRTSLocal), encodeRTS(1<<40, 0x1000, []byte{fmtMsgpack, 0}))
	f.Add(byte(kindRTSLocal), encodeRTS(10, 0, nil)) // no address
	f.Add(byte(kindRTS), []byte{1, 2, 3})            // too short
	f.Add(byte(kindRTSShared), encodeShareRequest(0x7f00_0000_1000, 8<<20))
	f.Fuzz(func(t *testing.T, k byte, payload []byte) {
		kind := []comm.Kind{kindRTS, kindRTSLocal, kindRTSShared}[k%3]
		if addr, offset, ok := decodeShareRequest(payload); ok && !bytes.Equal(encodeShareRequest(addr, offset), payload) {
			t.Fatalf("share request (%#x, %d) encodes to other bytes than % x", addr, offset, payload)
		}
		size, remote, desc, ok := decodeRTS(kind, payload)
		if !ok {
			return
		}
		if kind != kindRTS && remote.addr == 0 {
			t.Fatal("a local request accepted without an address")
		}
		if again := encodeRTS(size, remote.addr, desc); !bytes.Equal(again, payload) {
			t.Fatalf("decoded (%d, %#x, %q) encodes to % x, not % x", size, remote.addr, desc, again, payload)
		}
	})
}

// TestShareRequest: a ctsShare's payload reads back as written, and one of
// another length or without an address is refused.
func TestShareRequest(t *testing.T) {
	addr, offset, ok := decodeShareRequest(encodeShareRequest(0x7f00_0000_1000, 8<<20))
	if !ok || addr != 0x7f00_0000_1000 || offset != 8<<20 {
		t.Errorf("decoded %#x, %d, %v", addr, offset, ok)
	}
	for _, bad := range [][]byte{nil, encodeShareRequest(0, 5), append(encodeShareRequest(1, 2), 0)} {
		if _, _, ok := decodeShareRequest(bad); ok {
			t.Errorf("% x accepted as a share request", bad)
		}
	}
}
