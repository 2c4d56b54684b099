package mpi

import (
	"context"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
)

// A rendezvous announcing more than MaxMessageSize (a hostile or broken
// peer: gorun ranks refuse to send it) is dropped: the receiver neither
// panics nor allocates what it claims, and later messages still arrive.
func TestHugeAnnouncementIsDropped(t *testing.T) {
	net := comm.NewNetwork(2)
	peer := net.Transport(1)
	world, err := Init(WithTransport(net.Transport(0)))
	if err != nil {
		t.Fatal(err)
	}
	defer world.Finalize()
	if err := peer.Start(discard{}); err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	for _, a := range []struct {
		h       comm.Header
		payload []byte
	}{
		{comm.Header{Kind: kindRTSLocal, Seq: 1}, encodeRTS(1<<62, 0x1000, []byte{fmtRaw, 0})},
		{comm.Header{Kind: kindRTS, Seq: 2}, encodeRTS(1<<63, 0, []byte{fmtRaw, 0})},
		{comm.Header{Kind: kindRTS, Seq: 3}, []byte{1, 2, 3}},                  // too short for a size
		{comm.Header{Kind: kindRTSLocal, Seq: 4}, encodeRTS(10, 0, []byte{1})}, // no address
	} {
		if err := peer.Send(context.Background(), 0, a.h, a.payload); err != nil {
			t.Fatal(err)
		}
	}
	desc, body, err := encodeValue([]byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Send(context.Background(), 0, comm.Header{Kind: kindEager}, joinMessage(desc, body)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := world.WithContext(ctx).Recv(&got, 1, 0); err != nil || string(got) != "after" {
		t.Fatalf("Recv = %q, %v; want the message after the announcements", got, err)
	}
}

// discard is a comm.Handler that drops everything.
type discard struct{}

func (discard) Deliver(comm.Frame)  {}
func (discard) PeerGone(int, error) {}
