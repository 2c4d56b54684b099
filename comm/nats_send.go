package comm

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
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
	first, typ, headLen := size, msgFrame, natsFrameHeaderLen
	if natsFrameHeaderLen+size > t.maxPayload {
		first, typ, headLen = t.maxPayload-natsStartHeaderLen, msgFrameStart, natsStartHeaderLen
	}
	msg := p.message(headLen + first)
	p.seq++
	t.putCtl(msg, typ, p.seq)
	putFrameHeader(msg, h)
	if typ == msgFrameStart {
		binary.LittleEndian.PutUint64(msg[natsFrameHeaderLen:natsStartHeaderLen], uint64(size))
	}
	copyRange(msg[headLen:], head, body, 0)
	if err := t.publish(ctx, p, msg); err != nil {
		return err
	}
	for off := first; off < size; {
		n := min(size-off, t.maxPayload-natsCtlHeaderLen)
		msg := p.message(natsCtlHeaderLen + n)
		p.seq++
		t.putCtl(msg, msgChunk, p.seq)
		copyRange(msg[natsCtlHeaderLen:], head, body, off)
		if err := t.publish(ctx, p, msg); err != nil {
			return err
		}
		off += n
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

// publish sends one sequenced message to p once its credit allows
// (p.sendMu held).
func (t *NATS) publish(ctx context.Context, p *natsPeer, msg []byte) error {
	cost := uint64(len(msg)) + msgOverhead
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
	if err := t.nc.Publish(t.inboxes[p.rank], msg); err != nil {
		err = fmt.Errorf("comm: nats rank %d: publishing to rank %d: %w: %v", t.cfg.Rank, p.rank, ErrPeerLost, err)
		t.die(err)
		return err
	}
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
