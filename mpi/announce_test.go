package mpi

import (
	"context"
	"encoding/binary"
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
	local := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64([]byte{fmtRaw, 0}, 0x1000), 1<<62)
	for _, h := range []comm.Header{
		{Kind: comm.KindRTSLocal, Seq: 1, Size: 1 << 62},
		{Kind: comm.KindRTS, Seq: 2, Size: 1 << 63},
	} {
		payload := local
		if h.Kind == comm.KindRTS {
			payload = []byte{fmtRaw, 0}
		}
		if err := peer.Send(context.Background(), 0, h, payload); err != nil {
			t.Fatal(err)
		}
	}
	desc, body, err := encodeValue([]byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Send(context.Background(), 0, comm.Header{Kind: comm.KindEager}, joinMessage(desc, body)); err != nil {
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
