package comm

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// Send publishes one frame to dest's inbox, in chunks when it exceeds the
// server's max_payload. It waits until dest has subscribed and until dest's
// credit window has room for each message.
func (t *NATS) Send(ctx context.Context, dest int, h Header, payload []byte) error {
	return t.SendParts(ctx, dest, h, payload, nil)
}

// SendParts sends one frame whose payload is head followed by body,
// without joining them first (see PartsSender).
func (t *NATS) SendParts(ctx context.Context, dest int, h Header, head, body []byte) error {
	return t.sendMessages(ctx, dest, h, head, body, -1)
}

// sendMessages is SendParts, stopping after the frame's first limit
// messages (negative: none left out), as a sender that dies between them
// would (tests).
func (t *NATS) sendMessages(ctx context.Context, dest int, h Header, head, body []byte, limit int) error {
	size := len(head) + len(body)
	if dest < 0 || dest >= t.cfg.Size || t.peers[dest] == nil {
		return fmt.Errorf("comm: nats rank %d: send to rank %d, not a peer of this transport (job of %d): %w", t.cfg.Rank, dest, t.cfg.Size, ErrBadRank)
	}
	if err := checkKind(h.Kind); err != nil {
		return fmt.Errorf("comm: nats rank %d: send to rank %d: %w", t.cfg.Rank, dest, err)
	}
	if uint64(size) > t.cfg.MaxFrame {
		return fmt.Errorf("comm: nats rank %d: %d-byte frame to rank %d exceeds %d: %w", t.cfg.Rank, size, dest, t.cfg.MaxFrame, ErrFrameTooLarge)
	}
	if err := t.usable(); err != nil {
		return err
	}
	p := t.peers[dest]
	if err := p.goneError(); err != nil {
		return fmt.Errorf("comm: nats rank %d: send to rank %d: %w", t.cfg.Rank, dest, err)
	}
	if err := t.awaitReady(ctx, p); err != nil {
		return err
	}
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	// The first message carries the header and as much payload as fits;
	// a large frame's first message also says how long the payload is.
	// A large frame's messages leave room for the NATS header that may
	// carry their fixed part (see natsHeaderKey).
	room, startRoom, chunkRoom := t.maxMsg-natsFrameHeaderLen, t.maxMsg-natsStartHeaderLen, t.maxMsg-natsCtlHeaderLen
	if t.headers && size >= natsHeaderedMin {
		room, startRoom, chunkRoom = t.maxMsg-natsHeaderReserve, t.maxMsg-natsHeaderReserve, t.maxMsg-natsHeaderReserve
	}
	var fixed [natsStartHeaderLen]byte
	first, typ := size, msgFrame
	if size > room {
		first, typ = firstChunk(size, len(head), startRoom, chunkRoom), msgFrameStart
	}
	p.seq++
	t.putCtl(fixed[:], typ, p.seq)
	putFrameHeader(fixed[:], h)
	if typ == msgFrameStart {
		binary.LittleEndian.PutUint64(fixed[natsFrameHeaderLen:natsStartHeaderLen], uint64(size))
	}
	if err := t.publishPart(ctx, p, fixed[:fixedLen(typ)], head, body, 0, first); err != nil {
		return err
	}
	for off, sent := first, 1; off < size && sent != limit; sent++ {
		n := min(size-off, chunkRoom)
		p.seq++
		t.putCtl(fixed[:], msgChunk, p.seq)
		if err := t.publishPart(ctx, p, fixed[:natsCtlHeaderLen], head, body, off, n); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// firstChunk returns how many payload bytes the first message of a frame
// of size bytes, head of them its head, carries when the frame does not
// fit one message. Fewest messages: what is left over once the rest fills
// whole messages of chunkRoom bytes, so that a frame of two messages goes
// as a small first one and a full second one, which is one piece of the
// sender's memory and goes as it is (a 1 MiB rendezvous body under a
// 1 MiB server: 128 bytes, then the rest). But no chunk straddles head
// and body, and no large part of the body is copied behind the head (an
// eager message over a limit its user raised): then the first message is
// the head alone, and the body follows in one message more.
func firstChunk(size, head, startRoom, chunkRoom int) int {
	chunks := (size - startRoom + chunkRoom - 1) / chunkRoom
	first := max(size-chunks*chunkRoom, 0)
	if (first < head || (head > 0 && first-head >= natsHeaderedMin)) && head <= startRoom {
		first = head
	}
	return min(first, startRoom)
}

// publishPart publishes one message of a frame: its fixed part and the n
// bytes at offset off of the payload head followed by body (p.sendMu
// held). Data that is one piece of head or body, and large, goes as it is
// with the fixed part in a NATS header; anything else is copied behind the
// fixed part into p's buffer.
func (t *NATS) publishPart(ctx context.Context, p *natsPeer, fixed, head, body []byte, off, n int) error {
	if err := t.takeCredit(ctx, p, uint64(len(fixed)+n)+msgOverhead); err != nil {
		return err
	}
	var err error
	if data := onePiece(head, body, off, n); t.headers && n >= natsHeaderedMin && data != nil {
		err = t.nc.PublishMsg(&nats.Msg{Subject: t.inboxes[p.rank], Header: headered(fixed), Data: data})
	} else {
		msg := p.message(len(fixed) + n)
		copy(msg, fixed)
		copyRange(msg[len(fixed):], head, body, off)
		err = t.nc.Publish(t.inboxes[p.rank], msg)
	}
	if err != nil {
		err = fmt.Errorf("comm: nats rank %d: publishing to rank %d: %w: %v", t.cfg.Rank, p.rank, ErrPeerLost, err)
		t.die(err)
		return err
	}
	return nil
}

// onePiece returns the n bytes at offset off of the payload head followed
// by body when they lie within one of the two, else nil.
func onePiece(head, body []byte, off, n int) []byte {
	switch {
	case off+n <= len(head):
		return head[off : off+n]
	case off >= len(head):
		return body[off-len(head) : off-len(head)+n]
	}
	return nil
}

// copyRange fills dst with the bytes of head followed by body, starting at
// offset off of that logical payload.
func copyRange(dst, head, body []byte, off int) {
	if off < len(head) {
		n := copy(dst, head[off:])
		dst, off = dst[n:], len(head)
	}
	copy(dst, body[off-len(head):])
}

// message returns p's reusable buffer cut to n bytes (p.sendMu held). NATS
// copies what it publishes, so the buffer is free again after Publish.
func (p *natsPeer) message(n int) []byte {
	if cap(p.buf) < n {
		p.buf = make([]byte, n)
	}
	return p.buf[:n]
}

// usable reports why nothing can be sent, if so.
func (t *NATS) usable() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return fmt.Errorf("comm: nats rank %d: %w", t.cfg.Rank, ErrClosed)
	case t.fatalErr != nil:
		return fmt.Errorf("comm: nats rank %d: %w: %v", t.cfg.Rank, ErrPeerLost, t.fatalErr)
	case !t.started:
		return fmt.Errorf("comm: nats rank %d: Send before Start", t.cfg.Rank)
	}
	return nil
}

// awaitReady waits until p's inbox is subscribed.
func (t *NATS) awaitReady(ctx context.Context, p *natsPeer) error {
	select {
	case <-p.ready:
		return nil
	default:
	}
	timer := time.NewTimer(t.cfg.ReadyTimeout)
	defer timer.Stop()
	return t.waitFor(ctx, p, p.ready, timer.C, func() error {
		return fmt.Errorf("comm: nats rank %d: rank %d did not join the job within %v: %w", t.cfg.Rank, p.rank, t.cfg.ReadyTimeout, ErrPeerLost)
	})
}

// waitFor waits for event, or until waiting is pointless: ctx ends, the
// transport fails or closes, or p is gone (it will neither subscribe nor
// grant credit). expire, when not nil, ends the wait with expired().
func (t *NATS) waitFor(ctx context.Context, p *natsPeer, event <-chan struct{}, expire <-chan time.Time, expired func() error) error {
	select {
	case <-event:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.fatal:
		return t.usable()
	case <-t.closing:
		return t.usable()
	case <-p.goneCh:
		return fmt.Errorf("comm: nats rank %d: send to rank %d: %w", t.cfg.Rank, p.rank, p.goneError())
	case <-expire:
		return expired()
	}
}

// takeCredit waits until p's credit window has room for a message of
// cost and takes it (p.sendMu held).
func (t *NATS) takeCredit(ctx context.Context, p *natsPeer, cost uint64) error {
	for {
		p.creditMu.Lock()
		ok := p.sent+cost <= p.granted+t.cfg.Window
		p.creditMu.Unlock()
		if ok {
			break
		}
		if err := t.waitFor(ctx, p, p.credit, nil, nil); err != nil {
			return err
		}
	}
	p.sent += cost
	return nil
}

// publishGoodbye tells p that we finished, after our last frame; it is
// sequenced but costs no credit (p.sendMu held).
func (t *NATS) publishGoodbye(p *natsPeer) error {
	msg := p.message(natsCtlHeaderLen)
	p.seq++
	t.putCtl(msg, msgGoodbye, p.seq)
	return t.nc.Publish(t.inboxes[p.rank], msg)
}

// grant tells p how much of what it sent we have consumed (unsequenced:
// credits are cumulative, so a later one covers an earlier one).
func (t *NATS) grant(p *natsPeer) {
	var msg [natsCtlHeaderLen]byte
	t.putCtl(msg[:], msgCredit, p.consumed)
	p.lastGrant = p.consumed
	_ = t.nc.Publish(t.inboxes[p.rank], msg[:])
}

// announce publishes an unsequenced liveness message to subject.
func (t *NATS) announce(typ byte, subject string) {
	var msg [natsCtlHeaderLen]byte
	t.putCtl(msg[:], typ, 0)
	_ = t.nc.Publish(subject, msg[:])
}

// TrySend sends a frame that fits one message at once if nothing stands in
// the way: dest has subscribed, no other send to dest holds its lock, and
// its credit window has room (see TrySender). The layer above answers
// from Deliver with it, as a NATS responder answers from its message
// handler, instead of waking a goroutine to call Send.
func (t *NATS) TrySend(dest int, h Header, payload []byte) (bool, error) {
	if dest < 0 || dest >= t.cfg.Size || t.peers[dest] == nil || h.Kind >= FirstReservedKind ||
		natsFrameHeaderLen+len(payload) > t.maxMsg || t.usable() != nil {
		return false, nil // Send reports what is wrong, if anything
	}
	p := t.peers[dest]
	select {
	case <-p.ready:
	default:
		return false, nil
	}
	if p.goneError() != nil || !p.sendMu.TryLock() {
		return false, nil
	}
	defer p.sendMu.Unlock()
	cost := uint64(natsFrameHeaderLen+len(payload)) + msgOverhead
	p.creditMu.Lock()
	ok := p.sent+cost <= p.granted+t.cfg.Window
	p.creditMu.Unlock()
	if !ok {
		return false, nil
	}
	p.sent += cost
	msg := p.message(natsFrameHeaderLen + len(payload))
	p.seq++
	t.putCtl(msg, msgFrame, p.seq)
	putFrameHeader(msg, h)
	copy(msg[natsFrameHeaderLen:], payload)
	if err := t.nc.Publish(t.inboxes[p.rank], msg); err != nil {
		// Only a closed connection refuses a message that fits: the
		// transport is failing. The caller may hold t.hmu (Deliver) or
		// not, so die on a goroutine of its own.
		err = fmt.Errorf("comm: nats rank %d: publishing to rank %d: %w: %v", t.cfg.Rank, p.rank, ErrPeerLost, err)
		go t.die(err)
		return false, err
	}
	return true, nil
}
