package comm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// copyLimit is the largest payload copied next to its header to go out in
// one write; larger payloads go out with writev, straight from the caller's
// memory.
const copyLimit = 32 << 10

// outConn is the connection this rank dialed to one destination: the only
// way frames travel to it.
type outConn struct {
	mu   sync.Mutex
	conn *net.UnixConn
	err  error       // sticky: once set, every Send to this destination fails
	buf  []byte      // header plus small payload, reused under mu
	ring *ringWriter // the connection's shared-memory ring, or nil
	// ordered: the connection was made with a ring, so its frames carry
	// ordinals (even after the ring was dropped); ord is the next one.
	ordered bool
	ord     uint32
}

// Send writes one frame to dest, dialing it first if this is the first frame
// for it. A frame larger than MaxFrame is refused before anything is sent.
func (u *Unix) Send(ctx context.Context, dest int, h Header, payload []byte) error {
	return u.SendParts(ctx, dest, h, payload, nil)
}

// SendParts sends one frame whose payload is head followed by body, written
// together without joining them first (see PartsSender).
func (u *Unix) SendParts(ctx context.Context, dest int, h Header, head, body []byte) error {
	size := len(head) + len(body)
	if !u.isPeer(dest) {
		return fmt.Errorf("comm: unix rank %d: send to %d, not a peer of this transport (job of %d): %w", u.cfg.Rank, dest, u.cfg.Size, ErrBadRank)
	}
	if err := checkKind(h.Kind); err != nil {
		return fmt.Errorf("comm: unix rank %d: send to %d: %w", u.cfg.Rank, dest, err)
	}
	if uint64(size) > u.cfg.MaxFrame {
		return fmt.Errorf("comm: unix rank %d: frame of %d bytes to rank %d, limit %d: %w",
			u.cfg.Rank, size, dest, u.cfg.MaxFrame, ErrFrameTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	oc := &u.out[dest]
	// Locked around a call, not with a deferred unlock: SendParts' defers
	// were not open-coded (tens of nanoseconds of an 8-byte message's few
	// hundred).
	oc.mu.Lock()
	err := u.sendLocked(ctx, oc, dest, &h, head, body)
	oc.mu.Unlock()
	return err
}

// isClosing reports whether Close has begun.
func (u *Unix) isClosing() bool { return u.closingFlag.Load() }

// sendLocked is SendParts once oc.mu is held: it dials dest first if this
// is the first frame for it, then sends by the ring if it can, else by the
// socket.
func (u *Unix) sendLocked(ctx context.Context, oc *outConn, dest int, h *Header, head, body []byte) error {
	if oc.err != nil {
		return oc.err
	}
	if u.isClosing() {
		return fmt.Errorf("comm: unix rank %d: %w", u.cfg.Rank, ErrClosed)
	}
	if oc.conn == nil {
		conn, ring, err := u.dial(ctx, dest, false)
		if err != nil {
			if !errors.Is(err, ErrClosed) && ctx.Err() == nil {
				oc.err = err
			}
			return err
		}
		oc.conn, oc.ring, oc.ordered = conn, ring, ring != nil
	}
	if sent, err := oc.putRing(u, dest, h, head, body); sent || err != nil {
		return err
	}
	if done := ctx.Done(); done != nil {
		stop := context.AfterFunc(ctx, func() { oc.conn.SetWriteDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				oc.conn.SetWriteDeadline(time.Time{})
			}
		}()
	}
	oc.spill()
	n, err := oc.write(h, oc.ordinal(), head, body)
	if err == nil {
		oc.ord++
		return nil
	}
	if ctx.Err() != nil && n == 0 {
		return ctx.Err() // nothing written: the connection is still sound
	}
	// A partly written frame cannot be taken back: the connection is lost.
	oc.conn.Close()
	switch {
	case ctx.Err() != nil:
		oc.err = fmt.Errorf("comm: unix rank %d: send to rank %d abandoned mid-frame: %w", u.cfg.Rank, dest, ErrPeerLost)
		return ctx.Err()
	case u.peerFinished(dest):
		oc.err = fmt.Errorf("comm: unix rank %d: send to rank %d: %w", u.cfg.Rank, dest, ErrPeerFinished)
	default:
		oc.err = fmt.Errorf("comm: unix rank %d: send to rank %d: %v: %w", u.cfg.Rank, dest, err, ErrPeerLost)
	}
	return oc.err
}

// putRing sends the frame through the ring when the connection has one,
// the frame fits and the ring has room, and wakes the reader when it asked
// for it. sent is false when the frame must go by the socket. oc.mu is
// held.
func (oc *outConn) putRing(u *Unix, dest int, h *Header, head, body []byte) (sent bool, err error) {
	if oc.ring == nil {
		return false, nil
	}
	sent, err = oc.ring.put(h, oc.ord, head, body)
	if err != nil {
		// The reader scribbled on the ring: from now on the socket
		// carries everything (the ordinals go on, so the order holds).
		oc.ring.unmap()
		oc.ring = nil
		return false, nil
	}
	if !sent {
		return false, nil
	}
	oc.ord++
	if oc.ring.claimWake() {
		if err := oc.wake(); err != nil {
			// The frame is in the ring: handed over, as a frame written
			// into the socket's buffer is, so this send succeeded. The
			// reader may well have taken it without the wake-up (it looks
			// at the ring again after saying it sleeps) and then finished:
			// failing here blamed a correct program (a rank's last Send to
			// a rank that received it and ended). Later sends fail.
			oc.conn.Close()
			oc.err = fmt.Errorf("comm: unix rank %d: waking rank %d: %v: %w", u.cfg.Rank, dest, err, ErrPeerLost)
			if u.peerFinished(dest) {
				oc.err = fmt.Errorf("comm: unix rank %d: send to rank %d: %w", u.cfg.Rank, dest, ErrPeerFinished)
			}
		}
	}
	return true, nil
}

// wake sends a wake-up frame without waiting for room: when the socket is
// full, its reader has bytes to read and drains the ring when it does. A
// wake-up partly written is finished, so the stream stays whole.
func (oc *outConn) wake() error {
	var hdr [frameHeaderLen]byte
	encodeHeader(hdr[:], &Header{Kind: unixWake}, 0)
	raw, err := oc.conn.SyscallConn()
	if err != nil {
		return err
	}
	var n int
	var werr error
	for {
		if cerr := raw.Control(func(fd uintptr) { n, werr = syscall.Write(int(fd), hdr[:]) }); cerr != nil {
			return cerr
		}
		if werr != syscall.EINTR {
			break
		}
	}
	switch {
	case werr == syscall.EAGAIN:
		return nil
	case werr != nil:
		return werr
	case n < len(hdr):
		_, err := oc.conn.Write(hdr[n:])
		return err
	}
	return nil
}

// ordinal is the ordinal the next data frame carries on the socket: 0 on
// a connection made without a ring.
func (oc *outConn) ordinal() uint32 {
	if oc.ordered {
		return oc.ord
	}
	return 0
}

// spill tells the reader, through the ring, that the next data frame goes
// by the socket, so a polling reader looks there. oc.mu is held.
func (oc *outConn) spill() {
	if oc.ring != nil {
		oc.ring.spilledPtr().Store(oc.ord + 1)
	}
}

// write sends the header (with ordinal ord) and the payload (head
// followed by body) and returns how many bytes went out.
func (oc *outConn) write(h *Header, ord uint32, head, body []byte) (int64, error) {
	size := len(head) + len(body)
	if size <= copyLimit {
		need := frameHeaderLen + size
		if cap(oc.buf) < need {
			oc.buf = make([]byte, need, max(need, 4096))
		}
		b := oc.buf[:need]
		encodeHeader(b, h, size)
		putOrdinal(b, ord)
		copy(b[copy(b[frameHeaderLen:], head)+frameHeaderLen:], body)
		n, err := oc.conn.Write(b)
		return int64(n), err
	}
	var hdr [frameHeaderLen]byte
	encodeHeader(hdr[:], h, size)
	putOrdinal(hdr[:], ord)
	bufs := net.Buffers{hdr[:], head, body}
	return bufs.WriteTo(oc.conn)
}

// TrySend sends a small frame to an already connected dest if it can do so
// at once: the connection is free and the socket has room. It implements
// TrySender.
func (u *Unix) TrySend(dest int, h Header, payload []byte) (bool, error) {
	if !u.isPeer(dest) || h.Kind >= FirstReservedKind || len(payload) > copyLimit {
		return false, nil
	}
	oc := &u.out[dest]
	if !oc.mu.TryLock() {
		return false, nil
	}
	defer oc.mu.Unlock()
	if oc.conn == nil || oc.err != nil {
		return false, nil
	}
	if sent, err := oc.putRing(u, dest, &h, payload, nil); sent || err != nil {
		return sent, err
	}
	raw, err := oc.conn.SyscallConn()
	if err != nil {
		return false, nil
	}
	need := frameHeaderLen + len(payload)
	if cap(oc.buf) < need {
		oc.buf = make([]byte, need, max(need, 4096))
	}
	b := oc.buf[:need]
	encodeHeader(b, &h, len(payload))
	putOrdinal(b, oc.ordinal())
	copy(b[frameHeaderLen:], payload)
	oc.spill()
	var n int
	var werr error
	if cerr := raw.Control(func(fd uintptr) { n, werr = syscall.Write(int(fd), b) }); cerr != nil {
		return false, nil
	}
	switch {
	case werr == syscall.EAGAIN || werr == syscall.EINTR:
		return false, nil
	case werr != nil:
		return false, nil // let Send meet the error and report it properly
	case n < len(b):
		// A partial write of a small frame is rare; finish it in order.
		if _, err := oc.conn.Write(b[n:]); err != nil {
			oc.conn.Close()
			oc.err = fmt.Errorf("comm: unix rank %d: send to rank %d: %v: %w", u.cfg.Rank, dest, err, ErrPeerLost)
			return false, oc.err
		}
	}
	oc.ord++
	return true, nil
}

// dropRing releases the connection's ring. oc.mu is held.
func (oc *outConn) dropRing() {
	oc.ring.unmap()
	oc.ring = nil
}
