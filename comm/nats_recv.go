package comm

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/gorun-mpi/gorun/internal/freshmem"
	"github.com/nats-io/nats.go"
)

// onMsg handles every message of our inbox and of the job's broadcast
// subject. NATS calls it on one goroutine per subscription; t.hmu orders the
// two and makes handler calls serial.
func (t *NATS) onMsg(m *nats.Msg) {
	var buf [natsStartHeaderLen]byte
	fixed, data, ok := splitMessage(m, &buf)
	t.hmu.Lock()
	defer t.hmu.Unlock()
	if !ok || len(fixed) < natsCtlHeaderLen || subtle.ConstantTimeCompare(fixed[:authLen], t.auth[:]) != 1 {
		t.rejected++
		return
	}
	typ := fixed[16]
	src := int(binary.LittleEndian.Uint32(fixed[17:21]))
	value := binary.LittleEndian.Uint64(fixed[21:29])
	if src < 0 || src >= t.cfg.Size || src == t.cfg.Rank {
		if !(src == t.cfg.Rank && typ == msgAlive) { // our own broadcast comes back
			t.rejected++
		}
		return
	}
	p := t.peers[src]
	if p == nil {
		return // a rank of the job that another transport serves
	}
	p.lastSeen.Store(time.Now().UnixNano())
	switch typ {
	case msgAlive:
		t.markReady(p)
		if !p.acked {
			p.acked = true
			t.announce(msgAliveAck, t.inboxes[src])
		}
		return
	case msgAliveAck:
		t.markReady(p)
		return
	case msgCredit:
		p.creditMu.Lock()
		if value > p.granted {
			p.granted = value
		}
		p.creditMu.Unlock()
		select {
		case p.credit <- struct{}{}:
		default:
		}
		return
	case msgFrame, msgFrameStart, msgChunk, msgGoodbye:
	default:
		t.rejected++
		return
	}
	if p.gone {
		return // after a fatal error, whatever still arrives is dropped
	}
	if value != p.expect {
		t.dieLocked(fmt.Errorf("messages from rank %d were lost: got sequence %d, expected %d", src, value, p.expect))
		return
	}
	p.expect++
	if typ == msgGoodbye {
		if p.asm != nil {
			t.peerGoneLocked(p, fmt.Errorf("comm: rank %d finished in the middle of a frame: %w", src, ErrPeerLost))
			return
		}
		t.peerGoneLocked(p, fmt.Errorf("comm: rank %d finished: %w", src, ErrPeerFinished))
		return
	}
	if err := t.receive(p, typ, fixed, data); err != nil {
		t.dieLocked(err)
		return
	}
	p.consumed += uint64(len(fixed)+len(data)) + msgOverhead
	if p.consumed-p.lastGrant >= t.cfg.Window/4 {
		t.grant(p)
	}
}

// receive handles one sequenced frame message from p: its fixed part
// (shorter than its type's when the message was) and its data (t.hmu
// held).
func (t *NATS) receive(p *natsPeer, typ byte, fixed, data []byte) error {
	switch typ {
	case msgFrame:
		if len(fixed) < natsFrameHeaderLen {
			return fmt.Errorf("a %d-byte frame from rank %d: %w", len(fixed)+len(data), p.rank, ErrBadFrame)
		}
		if p.asm != nil {
			return fmt.Errorf("rank %d started a frame before finishing the last: %w", p.rank, ErrBadFrame)
		}
		h := getFrameHeader(fixed, p.rank)
		if h.Kind >= FirstReservedKind {
			return fmt.Errorf("a frame of kind %#x from rank %d: %w", h.Kind, p.rank, ErrBadFrame)
		}
		payload := data
		if buf := t.bufferFor(h, len(payload)); buf != nil {
			copy(buf, payload)
			payload = buf
		}
		t.handler.Deliver(Frame{Header: h, Payload: payload})
	case msgFrameStart:
		if len(fixed) < natsStartHeaderLen {
			return fmt.Errorf("a %d-byte frame start from rank %d: %w", len(fixed)+len(data), p.rank, ErrBadFrame)
		}
		if p.asm != nil {
			return fmt.Errorf("rank %d started a frame before finishing the last: %w", p.rank, ErrBadFrame)
		}
		h := getFrameHeader(fixed, p.rank)
		if h.Kind >= FirstReservedKind {
			return fmt.Errorf("a frame of kind %#x from rank %d: %w", h.Kind, p.rank, ErrBadFrame)
		}
		total := binary.LittleEndian.Uint64(fixed[natsFrameHeaderLen:natsStartHeaderLen])
		if total > t.cfg.MaxFrame {
			return fmt.Errorf("rank %d announced a %d-byte frame, over the %d-byte limit: %w", p.rank, total, t.cfg.MaxFrame, ErrFrameTooLarge)
		}
		first := data
		if uint64(len(first)) >= total {
			return fmt.Errorf("rank %d sent a chunked frame that fits in one message: %w", p.rank, ErrBadFrame)
		}
		if buf := t.bufferFor(h, int(total)); buf != nil {
			p.asm = &assembly{f: Frame{Header: h, Payload: buf}, off: copy(buf, first)}
			return nil
		}
		// The payload's memory waits for the next chunk (see assemble).
		p.asm = &assembly{f: Frame{Header: h}, first: first, total: int(total)}
	case msgChunk:
		a := p.asm
		if a == nil || !a.assemble(data) {
			return fmt.Errorf("rank %d sent a chunk that belongs to no frame: %w", p.rank, ErrBadFrame)
		}
		if a.off == len(a.f.Payload) {
			p.asm = nil
			t.handler.Deliver(a.f)
		}
	}
	return nil
}

// assemble adds chunk to a, the frame's next bytes; it is false when they
// overrun the frame. A frame's memory is made when its second message
// arrives: a frame of two messages (a 1 MiB rendezvous body under a 1 MiB
// server, when no receive's buffer takes it) is its first message's data
// with the chunk appended; a frame of more is memory the chunks overwrite
// whole, its first message's data first (freshmem.Bytes: its pages made
// present at once, as in a guest whose page faults cost 14-19 us a 4 KiB
// page they cost more than the copies). A frame is delivered only once its
// chunks filled it, and a frame whose sender is lost before its last chunk
// never is.
func (a *assembly) assemble(chunk []byte) bool {
	if a.f.Payload == nil {
		n := len(a.first)
		if n+len(chunk) > a.total {
			return false
		}
		if n+len(chunk) == a.total {
			a.f.Payload = append(a.first[:n:n], chunk...)[:a.total:a.total]
			a.off, a.first = a.total, nil
			return true
		}
		a.f.Payload = freshmem.Bytes(a.total)
		a.off, a.first = copy(a.f.Payload, a.first), nil
	}
	if len(chunk) > len(a.f.Payload)-a.off {
		return false
	}
	a.off += copy(a.f.Payload[a.off:], chunk)
	return true
}

// bufferFor asks the handler for the memory of a payload of length bytes,
// when it is at least BufferThreshold long (see BufferProvider).
func (t *NATS) bufferFor(h Header, length int) []byte {
	bp, ok := t.handler.(BufferProvider)
	if !ok || length < BufferThreshold {
		return nil
	}
	buf := bp.BufferFor(h, length)
	if len(buf) != length {
		return nil
	}
	return buf
}

// markReady records that p's inbox is subscribed.
func (t *NATS) markReady(p *natsPeer) {
	p.once.Do(func() { close(p.ready) })
}

// heartbeats announces this rank every Heartbeat and reports peers silent
// for PeerTimeout as lost, until Close.
func (t *NATS) heartbeats() {
	defer close(t.stopped)
	tick := time.NewTicker(t.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-t.closing:
			return
		case <-tick.C:
		}
		t.announce(msgAlive, t.allSubj)
		if t.cfg.PeerTimeout < 0 {
			continue // the launcher watches the peers' processes
		}
		now := time.Now()
		for _, p := range t.peers {
			if p == nil {
				continue
			}
			silent := now.Sub(time.Unix(0, p.lastSeen.Load()))
			if silent < t.cfg.PeerTimeout {
				continue
			}
			t.hmu.Lock()
			t.peerGoneLocked(p, fmt.Errorf("comm: rank %d: rank %d has been silent for %v (its process ended?): %w",
				t.cfg.Rank, p.rank, silent.Round(time.Millisecond), ErrPeerLost))
			t.hmu.Unlock()
		}
	}
}
