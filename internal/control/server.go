package control

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// HelloTimeout bounds how long the launcher waits for the hello that must
// open every connection; a connection that stays silent longer is dropped.
const HelloTimeout = 10 * time.Second

// ErrBadHello reports a connection whose first message was not a hello with
// the job's secret and a rank inside the job.
var ErrBadHello = errors.New("control: bad hello")

// Event is what the launcher learns from one rank's connection: a message,
// or (Closed true) the end of that connection. Rank comes from the
// connection's authenticated hello, never from later messages. An event
// with Synced true answers Sync(Rank) instead.
type Event struct {
	Rank   int
	Msg    Message
	Closed bool
	Synced bool
}

// typeSync opens the server's own connection made by Sync.
const typeSync = "sync"

// Server is the launcher's end of the control channel: it accepts the ranks'
// connections on a Unix socket, checks each hello, and turns what the ranks
// send into Events. Its methods are safe for concurrent use.
type Server struct {
	ln     *net.UnixListener
	secret string
	size   int
	events chan Event
	done   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	ranks    map[int]*rankConn // each rank's connection, once its hello passed
	closed   bool
	accepted uint64              // connections accepted so far
	unread   map[uint64]struct{} // those whose first message is not read yet
	read     *sync.Cond          // signalled as unread shrinks, and on Close
}

// Listen starts a control server on a Unix socket at path for a job of size
// ranks whose hellos must carry secret.
func Listen(path, secret string, size int) (*Server, error) {
	if size < 1 {
		return nil, fmt.Errorf("control: listen on %s: job size %d is not positive", path, size)
	}
	addr := &net.UnixAddr{Name: path, Net: "unix"}
	ln, err := net.ListenUnix("unix", addr)
	if err != nil {
		return nil, fmt.Errorf("control: cannot listen on %s: %w", path, err)
	}
	s := &Server{
		ln:     ln,
		secret: secret,
		size:   size,
		events: make(chan Event, 16*size+16),
		done:   make(chan struct{}),
		conns:  make(map[net.Conn]struct{}),
		ranks:  make(map[int]*rankConn),
		unread: make(map[uint64]struct{}),
	}
	s.read = sync.NewCond(&s.mu)
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Events delivers the ranks' messages in the order each rank sent them
// (interleaved across ranks), and one Closed event per connection that passed
// its hello. The channel is never closed; stop reading after Close.
func (s *Server) Events() <-chan Event { return s.events }

// Close stops accepting, closes every connection (so ranks still watching
// the launcher see it go) and waits for the server's goroutines to end.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.read.Broadcast()
	close(s.done)
	err := s.ln.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("control: close listener: %w", err)
	}
	return nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// A listener that fails for good (e.g. out of descriptors)
			// leaves ranks unable to join; back off briefly instead of
			// spinning, and keep trying until Close.
			select {
			case <-s.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		seq, ok := s.track(conn)
		if !ok {
			_ = conn.Close()
			return
		}
		s.wg.Add(1)
		go s.serve(conn, seq)
	}
}

// track records conn so that Close can close it, and numbers it in the
// order of acceptance; false once closed.
func (s *Server) track(conn net.Conn) (seq uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, false
	}
	s.conns[conn] = struct{}{}
	s.accepted++
	s.unread[s.accepted] = struct{}{}
	return s.accepted, true
}

// firstRead records that connection seq's first message was read (or
// never will be).
func (s *Server) firstRead(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.unread[seq]; ok {
		delete(s.unread, seq)
		s.read.Broadcast()
	}
}

// Sync makes the server deliver an Event{Rank: tag, Synced: true} once
// every connection made before the call has been accepted and its hello
// delivered (or found bad). The launcher calls it when a rank exits
// without having been heard from: the rank's connection, if it made one,
// is then already in the listen queue, and the Synced event tells that
// its hello would have come first. Sync returns at once; if the server
// cannot reach itself, no event comes (the caller keeps a timeout).
func (s *Server) Sync(tag int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		conn, err := net.DialTimeout("unix", s.ln.Addr().String(), HelloTimeout)
		if err != nil {
			return
		}
		defer conn.Close()
		_ = json.NewEncoder(conn).Encode(Message{Type: typeSync, Rank: tag, Secret: s.secret})
		// Hold the connection until the server has answered (it closes
		// its end) or is closed.
		_, _ = io.Copy(io.Discard, conn)
	}()
}

// syncAfter waits until no connection accepted before seq is left with
// its first message unread; false if the server closed meanwhile.
func (s *Server) syncAfter(seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.closed && s.unreadBefore(seq) {
		s.read.Wait()
	}
	return !s.closed
}

func (s *Server) unreadBefore(seq uint64) bool {
	for q := range s.unread {
		if q < seq {
			return true
		}
	}
	return false
}

func (s *Server) untrack(conn net.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	_ = conn.Close()
}

func (s *Server) serve(conn net.Conn, seq uint64) {
	defer s.wg.Done()
	defer s.untrack(conn)
	defer s.firstRead(seq) // a connection that fails before its hello
	r := NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(HelloTimeout))
	hello, err := r.Next()
	if err != nil {
		return
	}
	if hello.Type == typeSync && subtle.ConstantTimeCompare([]byte(hello.Secret), []byte(s.secret)) == 1 {
		s.firstRead(seq)
		if s.syncAfter(seq) {
			s.emit(Event{Rank: hello.Rank, Synced: true})
		}
		return
	}
	rank, err := s.checkHello(hello)
	if err != nil {
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	if !s.register(rank, conn) {
		return // a second connection claiming a rank already connected
	}
	defer s.unregister(rank, conn)
	ok := s.emit(Event{Rank: rank, Msg: hello})
	s.firstRead(seq)
	if !ok {
		return
	}
	for {
		m, err := r.Next()
		if err != nil {
			s.emit(Event{Rank: rank, Closed: true})
			return
		}
		m.Rank = rank
		if !s.emit(Event{Rank: rank, Msg: m}) {
			return
		}
	}
}

// rankConn is a rank's connection as the launcher writes to it.
type rankConn struct {
	mu   sync.Mutex
	conn net.Conn
	enc  *json.Encoder
}

// sendTimeout bounds a write to a rank: a rank that does not read its
// connection (it is stopped, or not a gorun rank) must not stall the
// launcher.
const sendTimeout = time.Second

// register makes conn rank's connection; false if the rank has one already.
func (s *Server) register(rank int, conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.ranks[rank]; taken {
		return false
	}
	s.ranks[rank] = &rankConn{conn: conn, enc: json.NewEncoder(conn)}
	return true
}

func (s *Server) unregister(rank int, conn net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rc := s.ranks[rank]; rc != nil && rc.conn == conn {
		delete(s.ranks, rank)
	}
}

// Send writes m to rank's connection. It fails when the rank is not
// connected or does not take the message within a second.
func (s *Server) Send(rank int, m Message) error {
	s.mu.Lock()
	rc := s.ranks[rank]
	s.mu.Unlock()
	if rc == nil {
		return fmt.Errorf("control: rank %d is not connected", rank)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	_ = rc.conn.SetWriteDeadline(time.Now().Add(sendTimeout))
	if err := rc.enc.Encode(m); err != nil {
		return fmt.Errorf("control: cannot write to rank %d: %w", rank, err)
	}
	return nil
}

// checkHello returns the rank a valid hello introduces.
func (s *Server) checkHello(m Message) (int, error) {
	if m.Type != TypeHello {
		return 0, fmt.Errorf("%w: first message is %q, not %q", ErrBadHello, m.Type, TypeHello)
	}
	if subtle.ConstantTimeCompare([]byte(m.Secret), []byte(s.secret)) != 1 {
		return 0, fmt.Errorf("%w: wrong job secret from rank %d", ErrBadHello, m.Rank)
	}
	if m.Rank < 0 || m.Rank >= s.size {
		return 0, fmt.Errorf("%w: rank %d outside [0, %d)", ErrBadHello, m.Rank, s.size)
	}
	return m.Rank, nil
}

// emit hands e to the launcher; false once the server is closed.
func (s *Server) emit(e Event) bool {
	select {
	case s.events <- e:
		return true
	case <-s.done:
		return false
	}
}
