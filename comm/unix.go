package comm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// UnixConfig configures a Unix-socket transport.
type UnixConfig struct {
	Rank, Size int
	// Dir is the job's private (0700) directory, made by gorun; every rank's
	// socket lives there (see jobenv.SocketPath).
	Dir string
	// Secret is the per-job secret every connection's handshake presents.
	Secret string
	// Peers lists the ranks this transport serves (they share Dir); nil
	// means every other rank of the job. Frames to other ranks are refused
	// with ErrBadRank, their connections are refused, and Close says
	// goodbye only to Peers.
	Peers []int
	// MaxFrame is the largest payload accepted; 0 means DefaultMaxFrame.
	MaxFrame uint64
	// DialTimeout bounds the wait for a peer that has not started
	// listening yet; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// NoRings turns the shared-memory rings off: every frame goes by the
	// socket (mpi sets it when GORUN_SHM_RINGS=0). Rings are used only on
	// Linux, and only between two ends that both want them.
	NoRings bool
	// RingSize is the data area of the ring each connection's dialer
	// creates, a power of two from 4 KiB to 64 MiB; frames up to a quarter
	// of it travel through the ring. 0 means DefaultRingSize.
	RingSize int
}

// DefaultDialTimeout is how long a Unix transport waits for a peer's socket
// to appear before it declares the peer lost.
const DefaultDialTimeout = 30 * time.Second

// handshakeTimeout bounds how long an accepted connection may take to
// present its handshake, so a silent connector cannot pin a goroutine.
const handshakeTimeout = 10 * time.Second

// closeGrace bounds how long Close waits for its reader goroutines.
const closeGrace = 5 * time.Second

// Unix is a Transport over Unix domain sockets in one directory: a lazily
// connected full mesh of one-directional connections (rank a sends to b only
// on the connection a dialed to b, so the order per pair is the stream's).
// It implements Poller (a waiting receiver can read ready frames on its own
// goroutine instead of paying a sleep and wake-up per message), Spinner, Lingerer,
// TrySender, PartsSender and, on Linux, PeerMemoryReader. On Linux, frames
// up to a quarter of UnixConfig.RingSize travel through a shared-memory
// ring per connection instead of the socket (see unix_ring.go).
type Unix struct {
	cfg      UnixConfig
	listener *net.UnixListener
	peer     []bool // index = rank: served by this transport

	out []outConn // per destination, index = rank

	mu      sync.Mutex
	handler Handler
	// buffers is the handler as a BufferProvider, nil when it is not one;
	// like handler, set by Start before any frame is read.
	buffers BufferProvider
	in      []*inConn                  // per source; nil until it connects
	pending map[*net.UnixConn]struct{} // accepted, handshake not yet checked
	gone    []bool                     // PeerGone already reported
	closed  bool
	closing chan struct{}
	// closingFlag is set just before closing is closed: a check that costs a
	// load, for every Send.
	closingFlag atomic.Bool
	readers     sync.WaitGroup
	// cutWhileClosing counts connections accepted and closed unanswered
	// because Close had begun (their dialers dial again).
	cutWhileClosing atomic.Int64
	// readerGate, when set (tests only: HoldReaders), is a channel the
	// background readers wait on before they read, so that only Poll
	// delivers until it is closed.
	readerGate atomic.Pointer[chan struct{}]
	// inList is a snapshot of in for Poll, replaced (under mu) on change
	// and read without a lock: a poll costs no lock of its own.
	inList atomic.Pointer[[]*inConn]
	// spinners counts, in its low 32 bits (spinCount), the callers
	// between SpinStart and SpinEnd (or SpinLinger), and in its high 32
	// bits the SpinStarts so far (mod 2^32), which tell the linger timer
	// whether a caller polled since it was set: one atomic add per
	// SpinStart and per SpinEnd keeps both.
	spinners atomic.Uint64
	// The linger timer (see unix_ring_linger.go): lingerStarts is the
	// count of SpinStarts when it was set.
	lingerTimer   *time.Timer
	lingerPending atomic.Bool
	lingerStarts  atomic.Uint32
}

// Counting callers and starts in Unix.spinners.
const (
	spinCount  = 1<<32 - 1  // the mask of the callers' count
	spinOneIn  = 1<<32 + 1  // what SpinStart adds: a caller and a start
	spinOneOut = ^uint64(0) // what SpinEnd and SpinLinger add: a caller less
)

// spinning reports whether a caller is between SpinStart and SpinEnd.
func (u *Unix) spinning() bool { return u.spinners.Load()&spinCount != 0 }

// NewUnix listens at jobenv.SocketPath(cfg.Dir, cfg.Rank) and returns the
// transport; peers may connect as soon as it returns.
func NewUnix(cfg UnixConfig) (*Unix, error) {
	if cfg.Size < 1 || cfg.Rank < 0 || cfg.Rank >= cfg.Size {
		return nil, fmt.Errorf("comm: unix transport: rank %d of %d: %w", cfg.Rank, cfg.Size, ErrBadRank)
	}
	if len(cfg.Secret) > maxSecretLen {
		return nil, fmt.Errorf("comm: unix transport: secret longer than %d bytes", maxSecretLen)
	}
	peer, err := peerSet(cfg.Rank, cfg.Size, cfg.Peers)
	if err != nil {
		return nil, fmt.Errorf("comm: unix transport: %w", err)
	}
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = DefaultMaxFrame
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = DefaultRingSize
	}
	if cfg.RingSize < minRingSize || cfg.RingSize > maxRingSize || cfg.RingSize&(cfg.RingSize-1) != 0 {
		return nil, fmt.Errorf("comm: unix transport: ring size %d, want a power of two from %d to %d", cfg.RingSize, minRingSize, maxRingSize)
	}
	if !ringsSupported {
		cfg.NoRings = true
	}
	path := socketPath(cfg.Dir, cfg.Rank)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("comm: rank %d cannot listen at %s: %w", cfg.Rank, path, err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("comm: rank %d: %w", cfg.Rank, err)
	}
	u := &Unix{
		cfg:      cfg,
		listener: ln,
		peer:     peer,
		out:      make([]outConn, cfg.Size),
		in:       make([]*inConn, cfg.Size),
		pending:  make(map[*net.UnixConn]struct{}),
		gone:     make([]bool, cfg.Size),
		closing:  make(chan struct{}),
	}
	u.lingerTimer = time.AfterFunc(time.Hour, u.lingerDone)
	u.lingerTimer.Stop()
	return u, nil
}

// socketPath and donePath name rank's socket and its finished marker in dir.
// They match jobenv.SocketPath, which gorun uses (comm cannot import it).
func socketPath(dir string, rank int) string {
	return filepath.Join(dir, "r"+strconv.Itoa(rank)+".sock")
}

func donePath(dir string, rank int) string {
	return filepath.Join(dir, "r"+strconv.Itoa(rank)+".done")
}

// Rank returns this transport's rank.
func (u *Unix) Rank() int { return u.cfg.Rank }

// Size returns the number of ranks in the job.
func (u *Unix) Size() int { return u.cfg.Size }

// Start begins accepting peers' connections and delivering their frames to h.
func (u *Unix) Start(h Handler) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.handler != nil {
		return fmt.Errorf("comm: unix rank %d: Start called twice", u.cfg.Rank)
	}
	if u.closed {
		return fmt.Errorf("comm: unix rank %d: %w", u.cfg.Rank, ErrClosed)
	}
	u.handler = h
	u.buffers, _ = h.(BufferProvider)
	u.readers.Add(2)
	go u.acceptLoop()
	go u.readGoodbyeMarkers()
	return nil
}

// acceptLoop accepts connections until Close; each one gets its own
// goroutine for the handshake and then its reads. An accept that fails
// for another reason (out of descriptors: connections are being piled on
// the socket) is retried after a pause, so that peers can still join once
// the pile is gone.
func (u *Unix) acceptLoop() {
	defer u.readers.Done()
	for {
		conn, err := u.listener.AcceptUnix()
		if err != nil {
			select {
			case <-u.closing:
				return
			case <-time.After(acceptRetry):
				continue
			}
		}
		if !u.addPending(conn) {
			u.cutWhileClosing.Add(1)
			conn.Close()
			return
		}
		u.readers.Add(1)
		go func() {
			defer u.readers.Done()
			u.serve(conn)
		}()
	}
}

// acceptRetry is the pause after an accept that failed.
const acceptRetry = 10 * time.Millisecond

// addPending records conn as accepted but not yet authenticated, so that
// Close can end a handshake that never comes; false once closed.
func (u *Unix) addPending(conn *net.UnixConn) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return false
	}
	u.pending[conn] = struct{}{}
	return true
}

// donePending forgets conn as pending: its handshake was checked.
func (u *Unix) donePending(conn *net.UnixConn) {
	u.mu.Lock()
	delete(u.pending, conn)
	u.mu.Unlock()
}

// isPeer reports whether rank is served by this transport.
func (u *Unix) isPeer(rank int) bool {
	return rank >= 0 && rank < len(u.peer) && u.peer[rank]
}

// CanReadPeerMemory reports whether ReadPeerMemory may work for rank: a
// peer of this transport, on a system that can read another process's
// memory (PeerMemoryReader).
func (u *Unix) CanReadPeerMemory(rank int) bool {
	return canReadProcesses && u.isPeer(rank)
}

// ReadPeerMemory copies len(dst) bytes at addr in rank's process into dst,
// the process being the one the kernel reported for the connection rank
// dialed to us (PeerMemoryReader). It fails when rank has not connected.
func (u *Unix) ReadPeerMemory(rank int, addr uint64, dst []byte) error {
	pid := 0
	u.mu.Lock()
	if u.isPeer(rank) && u.in[rank] != nil {
		pid = u.in[rank].pid
	}
	u.mu.Unlock()
	if pid <= 0 {
		return fmt.Errorf("comm: unix rank %d: the process of rank %d is unknown (it has not connected to us)", u.cfg.Rank, rank)
	}
	if err := readProcess(pid, addr, dst); err != nil {
		return fmt.Errorf("comm: unix rank %d: reading rank %d's memory: %w", u.cfg.Rank, rank, err)
	}
	return nil
}

// peerGone reports rank gone to the handler, once.
func (u *Unix) peerGone(rank int, err error) {
	u.mu.Lock()
	if u.gone[rank] || u.closed {
		u.mu.Unlock()
		return
	}
	u.gone[rank] = true
	h := u.handler
	u.mu.Unlock()
	h.PeerGone(rank, err)
}

// isClosed reports whether Close has begun.
func (u *Unix) isClosed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.closed
}

// peerFinished reports whether rank left its finished marker.
func (u *Unix) peerFinished(rank int) bool {
	_, err := os.Stat(donePath(u.cfg.Dir, rank))
	return err == nil
}

// Close says goodbye to every peer, including those never connected to (so
// a peer waiting on us learns we finished; one not listening yet finds the
// goodbye in the job directory when it starts, see leaveGoodbye), leaves
// the finished marker, stops listening and releases every connection. It
// is idempotent.
func (u *Unix) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	u.closingFlag.Store(true)
	close(u.closing)
	u.mu.Unlock()
	u.lingerTimer.Stop()

	var errs []error
	if f, err := os.OpenFile(donePath(u.cfg.Dir, u.cfg.Rank), os.O_CREATE|os.O_WRONLY, 0o600); err != nil {
		errs = append(errs, fmt.Errorf("comm: rank %d cannot leave its finished marker: %w", u.cfg.Rank, err))
	} else {
		f.Close()
	}
	u.sayGoodbyes()
	u.listener.Close()
	u.mu.Lock()
	in := append([]*inConn(nil), u.in...)
	// A connection whose handshake has not come (a silent or hostile
	// local process) must not hold Close up until its handshake timeout.
	for conn := range u.pending {
		conn.Close()
	}
	u.mu.Unlock()
	for _, ic := range in {
		if ic != nil {
			ic.conn.Close()
		}
	}
	done := make(chan struct{})
	go func() { u.readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeGrace):
		errs = append(errs, fmt.Errorf("comm: rank %d: readers still running %v after Close", u.cfg.Rank, closeGrace))
	}
	for _, ic := range in {
		if ic != nil {
			ic.mu.Lock()
			ic.ended = true
			ic.dropRing()
			ic.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// sayGoodbyes sends a goodbye frame to every peer, in parallel, dialing the
// peers we never sent to (unless they finished already), then closes the
// outgoing connections.
func (u *Unix) sayGoodbyes() {
	var wg sync.WaitGroup
	for dest := range u.out {
		if !u.isPeer(dest) {
			continue
		}
		wg.Add(1)
		go func(dest int) {
			defer wg.Done()
			u.mu.Lock()
			gone := u.gone[dest]
			u.mu.Unlock()
			oc := &u.out[dest]
			oc.mu.Lock()
			defer oc.mu.Unlock()
			if oc.conn == nil && oc.err == nil && !gone && !u.peerFinished(dest) {
				oc.conn, oc.ring, oc.err = u.dial(context.Background(), dest, true)
				oc.ordered = oc.ring != nil
			}
			if oc.conn != nil && oc.err == nil {
				// The goodbye's ordinal is the number of data frames sent:
				// the reader delivers all of them before it.
				var hdr [frameHeaderLen]byte
				encodeHeader(hdr[:], &Header{Kind: unixGoodbye}, 0)
				putOrdinal(hdr[:], oc.ordinal())
				oc.conn.SetWriteDeadline(time.Now().Add(closeGrace))
				oc.conn.Write(hdr[:])
			}
			if oc.conn != nil {
				oc.conn.Close()
			}
			oc.dropRing()
			oc.err = fmt.Errorf("comm: unix rank %d: %w", u.cfg.Rank, ErrClosed)
		}(dest)
	}
	wg.Wait()
}
