package mpi

import (
	"bytes"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
)

// TestRTSRoundTrip: what encodeRTS writes, decodeRTS reads back, for both
// kinds of rendezvous request.
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
	} {
		size, remote, desc, ok := decodeRTS(tc.kind, encodeRTS(tc.size, tc.addr, tc.desc))
		if !ok || size != tc.size || remote.addr != tc.addr || !bytes.Equal(desc, tc.desc) {
			t.Errorf("kind %d: decoded %d, %#x, %q, %v; want %d, %#x, %q", tc.kind, size, remote.addr, desc, ok, tc.size, tc.addr, tc.desc)
		}
	}
}

// FuzzDecodeRTS: whatever a rendezvous request's payload holds, decodeRTS
// neither panics nor reads past it, accepts a local request only with an
// address, and what it accepts encodes back to the same bytes.
func FuzzDecodeRTS(f *testing.F) {
	f.Add(byte(kindRTS), encodeRTS(100, 0, []byte{fmtRaw, 8, 0, 0, 0, 0, 0, 0}))
	f.Add(byte(kindRTSLocal), encodeRTS(1<<40, 0x1000, []byte{fmtMsgpack, 0}))
	f.Add(byte(kindRTSLocal), encodeRTS(10, 0, nil)) // no address
	f.Add(byte(kindRTS), []byte{1, 2, 3})            // too short
	f.Fuzz(func(t *testing.T, k byte, payload []byte) {
		kind := kindRTS
		if k%2 == 1 {
			kind = kindRTSLocal
		}
		size, remote, desc, ok := decodeRTS(kind, payload)
		if !ok {
			return
		}
		if kind == kindRTSLocal && remote.addr == 0 {
			t.Fatal("a local request accepted without an address")
		}
		if again := encodeRTS(size, remote.addr, desc); !bytes.Equal(again, payload) {
			t.Fatalf("decoded (%d, %#x, %q) encodes to % x, not % x", size, remote.addr, desc, again, payload)
		}
	})
}
