package comm

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gorun-mpi/gorun/internal/freshmem"
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
	want    int         // the payload length of the frame being read
	payload []byte      // the large payload being read in place
	got     int         // bytes of the large payload read so far
	ended   bool        // the connection ended (goodbye, EOF, error, bad frame)
	ring    *ringReader // the peer's shared-memory ring, or nil
	next    uint32      // with a ring: the ordinal of the next data frame
	recheck atomic.Bool // SpinEnd asks the lock's holder to settle the ring
	// pollSocket is the function Poll hands raw.Control, made once so that
	// a poll allocates nothing; it adds what it delivered to polled. Both
	// are used under mu.
	pollSocket func(fd uintptr)
	polled     int
}

// serve runs one accepted connection: the handshake, then reads until the
// connection ends.
func (u *Unix) serve(conn *net.UnixConn) {
	src, ringFD, err := u.acceptHandshake(conn)
	u.donePending(conn)
	if err != nil {
		conn.Close() // no answer to whoever cannot authenticate
		return
	}
	var ring *ringReader
	if ringFD >= 0 {
		ring = u.acceptRing(ringFD)
		closeFD(ringFD)
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		ring.unmap()
		conn.Close()
		return
	}
	conn.SetReadBuffer(socketBuffer)
	ic := &inConn{u: u, conn: conn, raw: raw, src: src, pid: peerPID(raw), buf: make([]byte, readBufferLen), ring: ring}
	ic.pollSocket = func(fd uintptr) { ic.polled += ic.progress(int(fd)) }
	if !u.register(ic) {
		ring.unmap()
		answer := byte(handshakeRefused)
		if u.isClosed() {
			// Tell the dialer we finished, so it waits for our goodbye
			// rather than taking the cut connection for a lost peer.
			answer = handshakeClosing
		}
		conn.Write([]byte{answer})
		conn.Close()
		return
	}
	answer := byte(handshakeOK)
	if ring != nil {
		answer = handshakeRing
	}
	if _, err := conn.Write([]byte{answer}); err != nil {
		ic.end(fmt.Errorf("comm: rank %d: connection from rank %d broke during the handshake: %w", u.cfg.Rank, src, ErrPeerLost))
		return
	}
	// The callback runs each time the socket is readable; returning false
	// waits for the next readiness, true ends the read.
	raw.Read(func(fd uintptr) bool {
		if gate := u.readerGate.Load(); gate != nil {
			<-*gate
		}
		ic.mu.Lock()
		defer ic.release()
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
	list := append(append([]*inConn(nil), u.inConns()...), ic)
	u.inList.Store(&list)
	return true
}

// inConns returns the connections peers dialed to us, a snapshot that is
// never modified.
func (u *Unix) inConns() []*inConn {
	if p := u.inList.Load(); p != nil {
		return *p
	}
	return nil
}

// Poll reads and delivers, on the caller's goroutine, whatever frames have
// arrived on every connection whose reader is idle, without blocking. On a
// connection with a ring it reads the socket only when the writer said a
// frame went that way (the background reader handles the rest).
func (u *Unix) Poll() bool {
	list := u.inConns()
	delivered := false
	for _, ic := range list {
		if !ic.mu.TryLock() {
			continue
		}
		if !ic.ended {
			n := ic.drainRing()
			if ic.ring == nil || ic.ring.socketDue(ic.next) {
				// Control, unlike Read, does not take the descriptor's
				// read lock, which the background reader holds while it
				// waits.
				ic.polled = 0
				ic.raw.Control(ic.pollSocket)
				n += ic.polled
			} else if !ic.u.spinning() {
				// A spinning caller asks for no wake-up, so there is
				// nothing to settle: the drain above was the poll.
				n += ic.settle()
			}
			delivered = delivered || n > 0
		}
		ic.release()
	}
	return delivered
}

// SpinStart tells the transport a caller is about to poll in a loop
// (Spinner): until the matching SpinEnd, peers writing to our rings need
// not wake us through the socket.
func (u *Unix) SpinStart() {
	if u.spinners.Add(spinOneIn)&spinCount != 1 {
		return
	}
	list := u.inConns()
	for _, ic := range list {
		// A busy connection keeps asking for wake-ups: that only costs
		// its writer a frame.
		if ic.mu.TryLock() {
			if ic.ring != nil && !ic.ended {
				// A store only when needed: the writer loads this word
				// after every record, and a store takes its cache line
				// away from the writer's core.
				if s := ic.ring.sleepingPtr(); s.Load() != 0 {
					s.Store(0)
				}
			}
			ic.release()
		}
	}
}

// SpinEnd ends what SpinStart began: when no caller polls any more, every
// ring asks for wake-ups again, and what was published before is
// delivered now (see unix_ring.go for why nothing is left behind).
func (u *Unix) SpinEnd() {
	if u.spinners.Add(spinOneOut)&spinCount != 0 {
		return
	}
	u.settleAll()
}

// settleAll has every ring ask for wake-ups again, and delivers what was
// published before (see unix_ring.go for why nothing is left behind).
func (u *Unix) settleAll() {
	list := u.inConns()
	for _, ic := range list {
		// Never wait for the lock (its holder may be delivering to a
		// handler that waits for our caller): ask its holder to settle.
		ic.recheck.Store(true)
		if ic.mu.TryLock() {
			ic.release()
		}
	}
}

// release unlocks ic.mu, settling the ring first when SpinEnd asked for it
// while the lock was held, and again when it asks between our check and
// our unlock. SpinEnd stores recheck before its TryLock; a TryLock that
// fails saw the lock held, so the holder's unlock, and its load of recheck
// after it, come later (Go's atomics, which sync.Mutex is made of, are
// sequentially consistent): the holder sees the request, or the one that
// took the lock from it does.
func (ic *inConn) release() {
	for {
		// A load first: the swap, a locked instruction, only when asked.
		if ic.recheck.Load() && ic.recheck.Swap(false) {
			ic.settle()
		}
		ic.mu.Unlock()
		if !ic.recheck.Load() || !ic.mu.TryLock() {
			return
		}
	}
}

// acceptRing maps the ring a connecting peer passed, or returns nil when
// this transport wants no rings or the ring is unfit (the peer then sends
// everything by the socket).
func (u *Unix) acceptRing(fd int) *ringReader {
	if u.cfg.NoRings {
		return nil
	}
	mem, err := mapPeerRing(fd)
	if err != nil {
		return nil
	}
	rm, err := newRingMem(mem)
	if err != nil {
		unmapRing(mem)
		return nil
	}
	r := &ringReader{ringMem: rm, maxSize: min(rm.maxLen, u.cfg.MaxFrame)}
	r.tail = r.tailPtr().Load()
	if r.tail != 0 || r.headPtr().Load() != 0 {
		unmapRing(mem) // a fresh ring is empty
		return nil
	}
	r.sleepingPtr().Store(1) // nobody polls it yet
	return r
}

// drainRing delivers the ring's records in order, up to the next frame
// that travels by the socket. It returns how many it delivered. ic.mu is
// held.
func (ic *inConn) drainRing() int {
	if ic.ring == nil {
		return 0
	}
	bp := ic.u.buffers
	n := 0
	var f Frame
	for !ic.ended {
		ok, err := ic.ring.take(&f, ic.next, ic.src, bp)
		if err != nil {
			ic.end(fmt.Errorf("comm: rank %d: from rank %d: %w", ic.u.cfg.Rank, ic.src, errors.Join(err, ErrPeerLost)))
			return n
		}
		if !ok {
			return n
		}
		ic.next++
		ic.u.handler.Deliver(f)
		n++
	}
	return n
}

// settle is what a reader does before it stops looking at the ring: unless
// a caller spins on Poll, ask for a wake-up, then drain what was published
// before the request was visible. ic.mu is held.
func (ic *inConn) settle() int {
	if ic.ring == nil || ic.ended {
		return 0
	}
	if !ic.u.spinning() {
		ic.ring.sleepingPtr().Store(1)
	}
	return ic.drainRing()
}

// dropRing releases the ring's mapping. ic.mu is held and nothing reads
// the ring any more.
func (ic *inConn) dropRing() {
	ic.ring.unmap()
	ic.ring = nil
}

// progress reads without blocking until the socket has nothing more, and
// delivers every complete frame, the ring's too. It returns how many
// frames it delivered. ic.mu is held.
func (ic *inConn) progress(fd int) int {
	n := ic.drainRing()
	n += ic.readSocket(fd)
	return n + ic.settle()
}

// readSocket is progress on the socket alone.
func (ic *inConn) readSocket(fd int) int {
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
		ic.drainRing() // PeerGone comes after every frame that arrived
		ic.end(fmt.Errorf("comm: rank %d: connection from rank %d broke: %v: %w", ic.u.cfg.Rank, ic.src, err, ErrPeerLost))
		return false
	case n == 0:
		ic.drainRing()
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
		var h Header
		length, ord, err := decodeFrameHeader(&h, avail, ic.src, ic.u.cfg.MaxFrame)
		if err == nil {
			err = ic.checkOrdinal(h, length, ord)
		}
		if err != nil {
			ic.end(fmt.Errorf("comm: rank %d: from rank %d: %w", ic.u.cfg.Rank, ic.src, errors.Join(err, ErrPeerLost)))
			return false
		}
		ic.r += frameHeaderLen
		avail = avail[frameHeaderLen:]
		if h.Kind == unixWake {
			return ic.parse() // nothing to deliver: the ring was drained
		}
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
			if bp := ic.u.buffers; bp != nil && length >= BufferThreshold {
				if b := bp.BufferFor(h, int(length)); uint64(len(b)) == length {
					ic.payload = b
				}
			}
			if ic.payload == nil {
				// Read in whole before it is delivered: its pages are
				// made present at once (see freshmem).
				ic.payload = freshmem.Bytes(int(length))
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
	var payload []byte
	if bp := ic.u.buffers; bp != nil && length > 0 {
		if b := bp.BufferFor(ic.hdr, length); len(b) == length {
			payload = b
		}
	}
	if payload == nil {
		payload = make([]byte, length)
	}
	copy(payload, avail[:length])
	ic.r += length
	ic.deliver(payload)
	return true
}

// checkOrdinal checks a socket frame's ordinal and, on a connection with a
// ring, delivers the ring's records that come before the frame. A
// connection without a ring carries only zero ordinals and no wake-ups.
func (ic *inConn) checkOrdinal(h Header, length uint64, ord uint32) error {
	if ic.ring == nil {
		if ord != 0 || h.Kind == unixWake {
			return fmt.Errorf("frame of kind %#x with ordinal %d on a connection without a ring: %w", h.Kind, ord, ErrBadFrame)
		}
		return nil
	}
	if h.Kind == unixWake {
		if ord != 0 || length != 0 {
			return fmt.Errorf("wake-up with ordinal %d and %d bytes: %w", ord, length, ErrBadFrame)
		}
		return nil
	}
	ic.drainRing()
	if ic.ended {
		return fmt.Errorf("ring broken: %w", ErrBadFrame)
	}
	if ord != ic.next {
		return fmt.Errorf("socket frame with ordinal %d, %d expected (the ring holds no frame before it): %w", ord, ic.next, ErrBadFrame)
	}
	return nil
}

// deliver hands the current frame to the handler and resets the frame state.
func (ic *inConn) deliver(payload []byte) {
	f := Frame{Header: ic.hdr, Payload: payload}
	ic.inFrame, ic.payload, ic.got, ic.want = false, nil, 0, 0
	ic.next++
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
