package comm

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestNATSChunkedFramesAnySplit feeds the receive path (onMsg) frames cut
// into messages at random places, with and without memory from the
// handler (tagProvider: even tags get it), fixed parts in the message or
// in a NATS header: each frame is delivered once, whole and unaltered,
// and only with its last message.
func TestNATSChunkedFramesAnySplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 2026))
	tr := newNATS(natsFuzzConfig)
	rec := &tagProvider{}
	tr.handler = rec
	seq := uint64(0)
	deliver := func(typ byte, fixedRest []byte, data []byte) {
		seq++
		fixed := natsMessage(tr, typ, 1, seq, fixedRest)
		if rng.IntN(2) == 0 {
			tr.onMsg(&nats.Msg{Data: append(fixed, data...)})
			return
		}
		tr.onMsg(&nats.Msg{Header: headered(fixed), Data: data})
	}
	for i := range 2000 {
		total := 1 + rng.IntN(3*BufferThreshold)
		payload := make([]byte, total)
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		h := Header{Kind: tkData, Tag: int32(rng.IntN(2)), Seq: uint64(i)}
		first := rng.IntN(total) // less than total: else it is one message
		start := append(natsFrameHeader(h), binary.LittleEndian.AppendUint64(nil, uint64(total))...)
		deliver(msgFrameStart, start, payload[:first])
		for off := first; off < total; {
			if len(rec.frames) != i {
				t.Fatalf("frame %d (%d bytes, first message %d) delivered before its last chunk", i, total, first)
			}
			n := 1 + rng.IntN(total-off)
			if rng.IntN(3) == 0 {
				n = total - off // the rest at once, as the sender's messages usually end
			}
			deliver(msgChunk, nil, payload[off:off+n])
			off += n
		}
		if len(rec.frames) != i+1 || rec.gone != nil {
			t.Fatalf("frame %d: %d frames delivered, peers gone %v", i, len(rec.frames), rec.gone)
		}
		got := rec.frames[i]
		if got.Header != (Header{Kind: h.Kind, Source: 1, Tag: h.Tag, Seq: h.Seq}) || !bytes.Equal(got.Payload, payload) {
			t.Fatalf("frame %d (%d bytes, first message %d, tag %d) arrived altered", i, total, first, h.Tag)
		}
		if len(got.Payload) != cap(got.Payload) {
			t.Fatalf("frame %d: payload of %d bytes has capacity %d: appending to it would write past the frame", i, len(got.Payload), cap(got.Payload))
		}
	}
}
