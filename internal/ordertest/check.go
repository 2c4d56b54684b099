package ordertest

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/gorun-mpi/gorun/internal/freshmem"
)

// A message's payload starts with a header naming it; the rest is filler
// derived from its ID, and a CRC covers everything after the CRC field.
//
//	0  uint16 magic
//	2  uint16 sender (world rank)
//	4  uint8  communicator, uint8 unused
//	6  uint16 tag
//	8  uint32 sequence number per (sender, receiver, communicator)
//	12 uint32 message ID in the plan
//	16 uint32 length of the payload
//	20 uint32 CRC-32 (IEEE) of bytes 0-19 and 24-
const (
	headerLen = 24
	magic     = 0x6f72
)

// Payload builds message id's content, in memory whose pages are made
// present first (freshmem): every byte is written, and the plan's MiB
// messages in fresh heap pages cost a page fault per 4 KiB, which on a
// paravirtualized VM was a larger share of a run than the messages.
func (p *Plan) Payload(id int) []byte {
	m := p.Msgs[id]
	b := freshmem.Bytes(m.Size)
	binary.LittleEndian.PutUint16(b[0:], magic)
	binary.LittleEndian.PutUint16(b[2:], uint16(m.Src))
	b[4], b[5] = byte(m.Comm), 0
	binary.LittleEndian.PutUint16(b[6:], uint16(m.Tag))
	binary.LittleEndian.PutUint32(b[8:], uint32(m.Seq))
	binary.LittleEndian.PutUint32(b[12:], uint32(m.ID))
	binary.LittleEndian.PutUint32(b[16:], uint32(m.Size))
	x := p.Seed ^ uint64(id)*0x9e3779b97f4a7c15 | 1
	i := headerLen
	for ; i+8 <= len(b); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	for ; i < len(b); i++ {
		b[i] = byte(i)
	}
	binary.LittleEndian.PutUint32(b[20:], checksum(b))
	return b
}

func checksum(b []byte) uint32 {
	c := crc32.ChecksumIEEE(b[:20])
	return crc32.Update(c, crc32.IEEETable, b[headerLen:])
}

// received is one completed receive, for the checks.
type received struct {
	post     int // the receiver posted its receives in this order
	comm     int
	pattern  [2]int // source (rank of comm) and tag, -1 for a wildcard
	source   int    // Status.Source, a rank of comm
	tag      int    // Status.Tag
	size     int    // Status.Size
	data     []byte
	id       int // the message it holds, once checked
	intended int // the message the receive was planned for
}

// checkContent checks one received message against the plan: its header,
// checksum and length, and that it belongs where it arrived. It returns
// the message's ID.
func (p *Plan) checkContent(me int, r received) (int, error) {
	b := r.data
	where := fmt.Sprintf("receive #%d %s on %s (planned for message %d) got %d bytes from rank %d tag %d",
		r.post, pattern(r.pattern[0], r.pattern[1]), commNames[r.comm], r.intended, len(b), r.source, r.tag)
	if len(b) < headerLen || binary.LittleEndian.Uint16(b) != magic {
		return -1, fmt.Errorf("%s: no message header", where)
	}
	id := int(binary.LittleEndian.Uint32(b[12:]))
	if id >= len(p.Msgs) {
		return -1, fmt.Errorf("%s: message ID %d not in the plan", where, id)
	}
	m := p.Msgs[id]
	switch {
	case binary.LittleEndian.Uint32(b[20:]) != checksum(b):
		return id, fmt.Errorf("%s: %s: checksum mismatch (corrupted content)", where, p.Describe(id))
	case len(b) != m.Size || int(binary.LittleEndian.Uint32(b[16:])) != m.Size:
		return id, fmt.Errorf("%s: %s: length %d, want %d", where, p.Describe(id), len(b), m.Size)
	case r.size != m.Size:
		return id, fmt.Errorf("%s: %s: Status.Size %d, want %d", where, p.Describe(id), r.size, m.Size)
	case int(binary.LittleEndian.Uint16(b[2:])) != m.Src || int(b[4]) != m.Comm ||
		int(binary.LittleEndian.Uint16(b[6:])) != m.Tag || int(binary.LittleEndian.Uint32(b[8:])) != m.Seq:
		return id, fmt.Errorf("%s: header does not match %s", where, p.Describe(id))
	case m.Dst != me || m.Comm != r.comm:
		return id, fmt.Errorf("%s: %s was not for this rank and communicator", where, p.Describe(id))
	case p.Local[m.Comm][m.Src] != r.source || m.Tag != r.tag:
		return id, fmt.Errorf("%s: %s: Status says source %d tag %d, want %d and %d", where, p.Describe(id),
			r.source, r.tag, p.Local[m.Comm][m.Src], m.Tag)
	case !matches(r.pattern, p.Local[m.Comm][m.Src], m.Tag):
		return id, fmt.Errorf("%s: %s does not match the receive", where, p.Describe(id))
	}
	return id, nil
}

func matches(pat [2]int, source, tag int) bool {
	return (pat[0] < 0 || pat[0] == source) && (pat[1] < 0 || pat[1] == tag)
}

// checkRound checks everything rank me received in round: the content of
// each message, that each planned message came exactly once, and the order
// rule: of two messages from one sender on one communicator, the earlier
// sent cannot go to a later posted receive when the earlier posted receive
// (which got the later message) matches it too.
func (p *Plan) checkRound(me, round int, recs []received) error {
	seen := map[int]bool{}
	for i := range recs {
		id, err := p.checkContent(me, recs[i])
		if err != nil {
			return err
		}
		if seen[id] {
			return fmt.Errorf("%s arrived twice", p.Describe(id))
		}
		seen[id] = true
		recs[i].id = id
	}
	for id, m := range p.Msgs {
		if m.Round == round && m.Dst == me && !seen[id] {
			return fmt.Errorf("%s never arrived", p.Describe(id))
		}
	}
	for i := range recs {
		a := recs[i]
		ma := p.Msgs[a.id]
		for j := range recs {
			b := recs[j]
			mb := p.Msgs[b.id]
			if a.post >= b.post || ma.Src != mb.Src || ma.Comm != mb.Comm || mb.Seq > ma.Seq {
				continue
			}
			if matches(a.pattern, p.Local[mb.Comm][mb.Src], mb.Tag) {
				return fmt.Errorf("order broken: receive #%d %s was posted before receive #%d %s and matches both, "+
					"but got the later sent %s while the earlier sent %s went to the later receive",
					a.post, pattern(a.pattern[0], a.pattern[1]), b.post, pattern(b.pattern[0], b.pattern[1]),
					p.Describe(a.id), p.Describe(b.id))
			}
		}
	}
	return nil
}
