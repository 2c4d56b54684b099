package comm

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// refusedGrace is how long a dial keeps retrying a socket that exists but
// refuses connections (a listener that died, or a momentarily full backlog)
// before it declares the peer lost.
const refusedGrace = 2 * time.Second

// socketBuffer is the send and receive buffer size asked of each socket:
// large frames then move in few system calls.
const socketBuffer = 4 << 20

// dial connects to dest and performs the handshake. It retries while dest's
// socket does not exist yet (the peer has not started), for up to the dial
// timeout; ctx ends it early. A dial for a Send ends with ErrClosed once Close
// has begun; Close's own dials, which carry its goodbyes, pass forClose
// (and make no ring). The ring is nil when the connection has none.
func (u *Unix) dial(ctx context.Context, dest int, forClose bool) (*net.UnixConn, *ringWriter, error) {
	path := socketPath(u.cfg.Dir, dest)
	start := time.Now()
	deadline := start.Add(u.cfg.DialTimeout)
	var refusedSince time.Time
	backoff := 100 * time.Microsecond
	marked := false // forClose: our goodbye line for dest is written
	cut := false    // the last dial connected and was cut without an answer
	for {
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil && forClose && notListening(err) {
			// A goodbye need not wait for a peer that is not listening:
			// our goodbye line tells it when it starts (see leaveGoodbye).
			if marked {
				return nil, nil, fmt.Errorf("comm: rank %d: rank %d is not listening; it reads our goodbye line when it starts: %w", u.cfg.Rank, dest, errGoodbyeLeft)
			}
			if u.leaveGoodbye(dest) == nil {
				marked = true
				continue // once more: it may have started listening before the line was there
			}
		}
		if err == nil {
			ring, herr := u.handshake(conn, deadline, !forClose && !u.cfg.NoRings)
			if herr == nil {
				return conn, ring, nil
			}
			conn.Close()
			if errors.Is(herr, ErrPeerFinished) || u.peerFinished(dest) { // it closed while we shook hands
				return nil, nil, fmt.Errorf("comm: rank %d cannot reach rank %d: %w", u.cfg.Rank, dest, ErrPeerFinished)
			}
			if errors.Is(herr, errHandshakeCut) && !cut {
				// Cut with no answer: it refused our handshake, or it is
				// closing (it took our dial and closed it, or its listener
				// closed with our dial in its backlog). Dial once more: a
				// closing peer then refuses the dial or has left its
				// finished marker; a second cut is a refusal.
				cut = true
				err = herr
			} else {
				if errors.Is(herr, errHandshakeCut) {
					herr = fmt.Errorf("refused (wrong job secret?): %w", ErrBadFrame)
				}
				return nil, nil, fmt.Errorf("comm: rank %d handshake with rank %d at %s: %w", u.cfg.Rank, dest, path, herr)
			}
		} else {
			cut = false
		}
		if u.peerFinished(dest) {
			return nil, nil, fmt.Errorf("comm: rank %d cannot reach rank %d: %w", u.cfg.Rank, dest, ErrPeerFinished)
		}
		now := time.Now()
		if errors.Is(err, syscall.ECONNREFUSED) {
			if refusedSince.IsZero() {
				refusedSince = now
			}
			if now.Sub(refusedSince) > refusedGrace {
				return nil, nil, fmt.Errorf("comm: rank %d: rank %d refuses connections at %s (its process has died?): %w", u.cfg.Rank, dest, path, ErrPeerLost)
			}
		}
		if now.After(deadline) {
			return nil, nil, fmt.Errorf("comm: rank %d: rank %d never came up within %v (%v): %w", u.cfg.Rank, dest, u.cfg.DialTimeout, err, ErrPeerLost)
		}
		if !forClose {
			select {
			case <-u.closing: // a Send racing Close
				return nil, nil, fmt.Errorf("comm: unix rank %d: %w", u.cfg.Rank, ErrClosed)
			default:
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 20*time.Millisecond)
	}
}

// errHandshakeCut is a handshake whose connection ended with no answer: the
// acceptor refused it, or was closing (see the wire format).
var errHandshakeCut = errors.New("comm: connection cut during the handshake, with no answer")

// errGoodbyeLeft ends a goodbye dial to a peer that is not listening: the
// goodbye was left as a line of the goodbyes file instead.
var errGoodbyeLeft = errors.New("comm: goodbye left in the goodbyes file")

// notListening reports whether a dial failed because nobody listens on the
// socket yet (or any more): it does not exist, or refuses connections.
func notListening(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

// goodbyesFile names the file, in the job's directory, where ranks leave
// goodbyes for peers that were not listening (see leaveGoodbye): one line
// "from>to" per goodbye, appended. One file for the whole job keeps it to
// one inode however many ranks finish before others start.
const goodbyesFile = "goodbyes"

// leaveGoodbye leaves our goodbye to dest as a line of the goodbyes file,
// for a peer that is not listening yet: Close then need not wait for it to
// start. It is called with dest's outgoing connection locked and never
// made, once Close has begun, so that nothing was or will be sent to dest:
// the line says all there is. The order makes it sound: we append the line
// and then dial once more; dest listens and then (Start) reads the file.
// Either our second dial finds it listening (the goodbye goes by the
// socket as usual), or it started listening after that dial failed, which
// was after the line was written, so it reads the line. Seeing both is
// harmless: a peer is reported gone once.
func (u *Unix) leaveGoodbye(dest int) error {
	f, err := os.OpenFile(filepath.Join(u.cfg.Dir, goodbyesFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	// One write per line: appends do not interleave within it.
	_, err = f.Write([]byte(strconv.Itoa(u.cfg.Rank) + ">" + strconv.Itoa(dest) + "\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readGoodbyeMarkers reports gone (finished) every peer that left us a
// goodbye line before we listened (see leaveGoodbye). Start runs it once;
// we are listening by then. A last line without its newline is a write
// still under way: its writer dials us after it, and finds us listening.
func (u *Unix) readGoodbyeMarkers() {
	defer u.readers.Done()
	data, err := os.ReadFile(filepath.Join(u.cfg.Dir, goodbyesFile))
	if err != nil {
		return // none left (or unreadable: then every goodbye came by socket)
	}
	for len(data) > 0 {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if !complete {
			break
		}
		fromText, toText, ok := bytes.Cut(line, []byte(">"))
		if !ok {
			continue
		}
		from, err1 := strconv.Atoi(string(fromText))
		to, err2 := strconv.Atoi(string(toText))
		if err1 != nil || err2 != nil || to != u.cfg.Rank || !u.isPeer(from) {
			continue
		}
		u.peerGone(from, fmt.Errorf("comm: rank %d finished before we listened: %w", from, ErrPeerFinished))
	}
}

// handshake presents our rank and the job secret on a dialed connection and
// waits for the acceptor's answer. With withRing, it creates a ring and
// passes it along; the ring is returned when the acceptor took it.
func (u *Unix) handshake(conn *net.UnixConn, deadline time.Time, withRing bool) (*ringWriter, error) {
	conn.SetWriteBuffer(socketBuffer)
	conn.SetDeadline(deadline)
	defer conn.SetDeadline(time.Time{})
	msg := make([]byte, 0, len(handshakeMagic)+6+len(u.cfg.Secret))
	msg = append(msg, handshakeMagic...)
	msg = binary.LittleEndian.AppendUint32(msg, uint32(u.cfg.Rank))
	msg = binary.LittleEndian.AppendUint16(msg, uint16(len(u.cfg.Secret)))
	msg = append(msg, u.cfg.Secret...)
	var ring *ringWriter
	var werr error // a write the acceptor cut: its answer may still be there
	if withRing {
		// A ring that cannot be made is no error: the socket carries all.
		if fd, mem, err := createRing(u.cfg.RingSize); err == nil {
			rm, err := newRingMem(mem)
			if err == nil {
				ring = &ringWriter{ringMem: rm}
			} else {
				unmapRing(mem)
			}
			if ring != nil {
				err = writeWithFD(conn, msg, fd)
			}
			closeFD(fd)
			if ring != nil {
				if err != nil {
					ring.unmap()
					ring, werr = nil, err
				}
				msg = nil
			}
		}
	}
	if msg != nil {
		_, werr = conn.Write(msg)
	}
	var ack [1]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		if werr != nil {
			// It closed before reading us; an answer it left first was
			// read above.
			err = werr
		}
		ring.unmap()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// Connected (into its listen queue) but never answered: the
			// peer is not accepting, e.g. out of descriptors.
			return nil, fmt.Errorf("no answer to the handshake by the dial deadline: %w", ErrPeerLost)
		}
		return nil, fmt.Errorf("%w: %v", errHandshakeCut, err)
	}
	switch {
	case ack[0] == handshakeRing && ring != nil:
		return ring, nil
	case ack[0] == handshakeOK:
		ring.unmap() // the acceptor wants no ring
		return nil, nil
	case ack[0] == handshakeClosing:
		ring.unmap()
		return nil, fmt.Errorf("it is closing: %w", ErrPeerFinished)
	case ack[0] == handshakeRefused:
		ring.unmap()
		return nil, fmt.Errorf("refused: it counts this rank gone, or connected already: %w", ErrBadFrame)
	}
	ring.unmap()
	return nil, fmt.Errorf("answer %q: %w", ack[0], ErrBadFrame)
}

// acceptHandshake reads and checks a connecting peer's handshake and
// returns its rank and the descriptor of the ring it passed (-1: none);
// the caller answers once it has registered the connection. It never
// allocates more than maxSecretLen. Descriptors passed beyond the first,
// or with a handshake that fails, are closed.
func (u *Unix) acceptHandshake(conn *net.UnixConn) (rank, ringFD int, err error) {
	conn.SetDeadline(time.Now().Add(handshakeTimeout))
	defer conn.SetDeadline(time.Time{})
	var fixed [len(handshakeMagic) + 6]byte
	var fds []int
	ringFD = -1
	defer func() {
		if err != nil && ringFD >= 0 {
			closeFD(ringFD)
			ringFD = -1
		}
	}()
	var oob [oobSpace]byte
	for got := 0; got < len(fixed); {
		n, oobn, _, _, rerr := conn.ReadMsgUnix(fixed[got:], oob[:])
		fds = append(fds, receivedFDs(oob[:oobn])...)
		got += n
		if rerr != nil || n == 0 && got < len(fixed) {
			closeFDs(fds)
			if rerr == nil {
				rerr = io.ErrUnexpectedEOF
			}
			return -1, -1, fmt.Errorf("reading handshake: %v: %w", rerr, ErrBadFrame)
		}
	}
	if len(fds) > 0 {
		ringFD = fds[0]
		closeFDs(fds[1:])
	}
	if string(fixed[:len(handshakeMagic)]) != handshakeMagic {
		return -1, -1, fmt.Errorf("bad handshake magic %q: %w", fixed[:len(handshakeMagic)], ErrBadFrame)
	}
	rank = int(binary.LittleEndian.Uint32(fixed[len(handshakeMagic):]))
	secretLen := int(binary.LittleEndian.Uint16(fixed[len(handshakeMagic)+4:]))
	if rank < 0 || rank >= u.cfg.Size || rank == u.cfg.Rank { // < 0: a 32-bit int
		return -1, -1, fmt.Errorf("handshake from rank %d, job of %d: %w", rank, u.cfg.Size, ErrBadFrame)
	}
	if secretLen > maxSecretLen {
		return -1, -1, fmt.Errorf("handshake secret of %d bytes: %w", secretLen, ErrBadFrame)
	}
	secret := make([]byte, secretLen)
	if _, err := io.ReadFull(conn, secret); err != nil {
		return -1, -1, fmt.Errorf("reading handshake: %v: %w", err, ErrBadFrame)
	}
	if subtle.ConstantTimeCompare(secret, []byte(u.cfg.Secret)) != 1 {
		return -1, -1, fmt.Errorf("handshake from rank %d with the wrong job secret: %w", rank, ErrBadFrame)
	}
	return rank, ringFD, nil
}

// closeFDs closes descriptors received and not wanted.
func closeFDs(fds []int) {
	for _, fd := range fds {
		closeFD(fd)
	}
}
