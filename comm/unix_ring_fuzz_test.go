package comm

import (
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzUnixRingRecords feeds a ring reader a data area and a head written
// by a peer that may be hostile: take never panics, never reads past what
// was published, never returns a payload over the limit, and fails only
// with errRingBroken. Records it accepts come out in ordinal order.
func FuzzUnixRingRecords(f *testing.F) {
	valid := make([]byte, ringCtrlLen+minRingSize)
	w := &ringWriter{ringMem: mustRing(valid)}
	w.put(&Header{Kind: 1, Tag: 7, Seq: 9}, 0, []byte("hello"), nil)
	w.put(&Header{Kind: 2}, 1, make([]byte, 300), nil)
	w.put(&Header{Kind: 3}, 3, nil, nil) // a gap: ordinal 2 went by the socket
	f.Add(valid[ringCtrlLen:], w.head)
	f.Add(valid[ringCtrlLen:], w.head-1)
	f.Add(valid[ringCtrlLen:], uint64(1<<63))
	f.Add([]byte{0xff, 0, 0, 0}, uint64(32))
	f.Fuzz(func(t *testing.T, data []byte, head uint64) {
		mem := make([]byte, ringCtrlLen+minRingSize)
		copy(mem[ringCtrlLen:], data)
		r := &ringReader{ringMem: mustRing(mem), maxSize: 600}
		binary.LittleEndian.PutUint64(mem[ringHeadOff:], head)
		next := uint32(0)
		var f Frame
		for range 2 * minRingSize / ringAlign {
			ok, err := r.take(&f, next, 1, nil)
			if err != nil {
				if !errors.Is(err, errRingBroken) {
					t.Fatalf("take: %v, not errRingBroken", err)
				}
				return
			}
			if !ok {
				if r.tail == head {
					return
				}
				next++ // the socket's turn; the ring's records come after
				continue
			}
			if uint64(len(f.Payload)) > r.maxSize || f.Kind >= FirstReservedKind || f.Source != 1 {
				t.Fatalf("take accepted kind %#x, source %d, %d bytes (limit %d)", f.Kind, f.Source, len(f.Payload), r.maxSize)
			}
			if r.tail > head || r.tailPtr().Load() != r.tail {
				t.Fatalf("tail %d (shared %d) past head %d", r.tail, r.tailPtr().Load(), head)
			}
			next++
		}
	})
}

// mustRing wraps mem, which has a valid size.
func mustRing(mem []byte) ringMem {
	if len(mem) < ringCtrlLen+minRingSize {
		mem = append(mem, make([]byte, ringCtrlLen+minRingSize-len(mem))...)
	}
	rm, err := newRingMem(mem)
	if err != nil {
		panic(err)
	}
	return rm
}
