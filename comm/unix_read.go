package comm

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
)

// readBufferLen is the per-connection buffer that headers and small payloads
// are read through; larger payloads are read straight into their own slice.
const readBufferLen = 16 << 10

// inConn is a connection a peer dialed to us: we only read from it. Its
// read state is guarded by mu, so that either its background reader or a
// polling caller (Poll) reads and delivers, never both at once: frames of
// one source are delivered in order and never concurrently.
type inConn struct {
	u    *Unix
	conn *net.UnixConn
	raw  syscall.RawConn
	src  int
	pid  int // the peer's process id (SO_PEERCRED), or 0: see ReadPeerMemory

	mu      sync.Mutex
	buf     []byte // buf[r:w] holds bytes read but not yet parsed
	r, w    int
	hdr     Header // the header of the frame being read, when inFrame
	inFrame bool
	want    int    // the payload length of the frame being read
	payload []byte // the large payload being read in place
	got     int    // bytes of the large payload read so far
	ended   bool   // the connection ended (goodbye, EOF, error, bad frame)
}

// serve runs one accepted connection: the handshake, then reads until the
// connection ends.
func (u *Unix) serve(conn *net.UnixConn) {
	src, err := u.acceptHandshake(conn)
	u.donePending(conn)
	if err != nil {
		conn.Close()
		return
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return
	}
	conn.SetReadBuffer(socketBuffer)
	ic := &inConn{u: u, conn: conn, raw: raw, src: src, pid: peerPID(raw), buf: make([]byte, readBufferLen)}
	if !u.register(ic) {
		conn.Close()
		return
	}
	if _, err := conn.Write([]byte{handshakeOK}); err != nil {
		ic.end(fmt.Errorf("comm: rank %d: connection from rank %d broke during the handshake: %w", u.cfg.Rank, src, ErrPeerLost))
		return
	}
	// The callback runs each time the socket is readable; returning false
	// waits for the next readiness, true ends the read.
	raw.Read(func(fd uintptr) bool {
		ic.mu.Lock()
		defer ic.mu.Unlock()
		ic.progress(int(fd))
		return ic.ended
	})
	ic.mu.Lock()
	if !ic.ended {
		// Read returned without our callback ending it: the connection was
		// closed under us (Close).
		ic.ended = true
	}
	ic.mu.Unlock()
	conn.Close()
}

// register records ic as src's connection; a second connection claiming
// the same rank is refused.
func (u *Unix) register(ic *inConn) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || !u.isPeer(ic.src) || u.in[ic.src] != nil || u.gone[ic.src] {
		return false
	}
	u.in[ic.src] = ic
	u.inListMu.Lock()
	u.inList = append(append([]*inConn(nil), u.inList...), ic)
	u.inListMu.Unlock()
	return true
}

// Poll reads and delivers, on the caller's goroutine, whatever frames have
// arrived on every connection whose reader is idle, without blocking.
func (u *Unix) Poll() bool {
	u.inListMu.RLock()
	list := u.inList
	u.inListMu.RUnlock()
	delivered := false
	for _, ic := range list {
		if !ic.mu.TryLock() {
			continue
		}
		if !ic.ended {
			// Control, unlike Read, does not take the descriptor's read
			// lock, which the background reader holds while it waits.
			var n int
			ic.raw.Control(func(fd uintptr) { n = ic.progress(int(fd)) })
			delivered = delivered || n > 0
		}
		ic.mu.Unlock()
	}
	return delivered
}

// progress reads without blocking until the socket has nothing more, and
// delivers every complete frame. It returns how many frames it delivered.
// ic.mu is held.
func (ic *inConn) progress(fd int) int {
	delivered := 0
	for !ic.ended {
		if ic.inFrame && ic.payload != nil {
			// A large payload: read straight into it.
			n, err := syscall.Read(fd, ic.payload[ic.got:])
			if !ic.afterRead(n, err) {
				return delivered
			}
			ic.got += n
			if ic.got == len(ic.payload) {
				ic.deliver(ic.payload)
				delivered++
			}
			continue
		}
		if ic.parse() {
			delivered++
			continue
		}
		if ic.ended || (ic.inFrame && ic.payload != nil) {
			continue
		}
		// Need more bytes in buf: make room, then read.
		if ic.r > 0 {
			ic.w = copy(ic.buf, ic.buf[ic.r:ic.w])
			ic.r = 0
		}
		n, err := syscall.Read(fd, ic.buf[ic.w:])
		if !ic.afterRead(n, err) {
			return delivered
		}
		ic.w += n
	}
	return delivered
}

// afterRead interprets a read's result: true when n bytes arrived; false
// when there is nothing to read now or the connection ended.
func (ic *inConn) afterRead(n int, err error) bool {
	switch {
	case err == syscall.EINTR:
		return true // n is 0: simply read again
	case err == syscall.EAGAIN:
		return false
	case err != nil:
		ic.end(fmt.Errorf("comm: rank %d: connection from rank %d broke: %v: %w", ic.u.cfg.Rank, ic.src, err, ErrPeerLost))
		return false
	case n == 0:
		ic.end(fmt.Errorf("comm: rank %d: rank %d's connection closed without a goodbye (its process ended?): %w", ic.u.cfg.Rank, ic.src, ErrPeerLost))
		return false
	}
	return true
}

// parse consumes one complete frame (or the header of a large one) from
// buf. It reports whether it delivered a frame.
func (ic *inConn) parse() bool {
	avail := ic.buf[ic.r:ic.w]
	if !ic.inFrame {
		if len(avail) < frameHeaderLen {
			return false
		}
		h, length, err := decodeHeader(avail, ic.src, ic.u.cfg.MaxFrame)
		if err != nil {
			ic.end(fmt.Errorf("comm: rank %d: from rank %d: %w", ic.u.cfg.Rank, ic.src, errors.Join(err, ErrPeerLost)))
			return false
		}
		ic.r += frameHeaderLen
		avail = avail[frameHeaderLen:]
		ic.hdr, ic.inFrame = h, true
		if h.Kind == unixGoodbye {
			ic.inFrame = false
			ic.end(fmt.Errorf("comm: rank %d finished: %w", ic.src, ErrPeerFinished))
			return false
		}
		if length >= BufferThreshold || length > uint64(len(ic.buf)) {
			// A large frame: ask the handler for its memory, or allocate
			// it now that the length is known to be within MaxFrame; move
			// what has arrived, and read the rest in place.
			ic.payload = nil
			if bp, ok := ic.u.handler.(BufferProvider); ok && length >= BufferThreshold {
				if b := bp.BufferFor(h, int(length)); uint64(len(b)) == length {
					ic.payload = b
				}
			}
			if ic.payload == nil {
				ic.payload = make([]byte, length)
			}
			ic.got = copy(ic.payload, avail)
			ic.r += ic.got
			if ic.got == len(ic.payload) {
				ic.deliver(ic.payload)
				return true
			}
			return false
		}
		ic.payload = nil
		ic.want = int(length)
	}
	length := ic.want
	if len(avail) < length {
		return false
	}
	payload := make([]byte, length)
	copy(payload, avail[:length])
	ic.r += length
	ic.deliver(payload)
	return true
}

// deliver hands the current frame to the handler and resets the frame state.
func (ic *inConn) deliver(payload []byte) {
	f := Frame{Header: ic.hdr, Payload: payload}
	ic.inFrame, ic.payload, ic.got, ic.want = false, nil, 0, 0
	ic.u.handler.Deliver(f)
}

// end marks the connection ended and reports the peer gone for reason.
func (ic *inConn) end(reason error) {
	if ic.ended {
		return
	}
	ic.ended = true
	ic.u.peerGone(ic.src, reason)
}
