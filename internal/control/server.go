package control

import (
	"crypto/subtle"
	"errors"
	"fmt"
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
// connection's authenticated hello, never from later messages.
type Event struct {
	Rank   int
	Msg    Message
	Closed bool
}

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

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
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
	}
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
		if !s.track(conn) {
			_ = conn.Close()
			return
		}
		s.wg.Add(1)
		go s.serve(conn)
	}
}

// track records conn so that Close can close it; false once closed.
func (s *Server) track(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[conn] = struct{}{}
	return true
}

func (s *Server) untrack(conn net.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	_ = conn.Close()
}

func (s *Server) serve(conn net.Conn) {
	defer s.wg.Done()
	defer s.untrack(conn)
	r := NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(HelloTimeout))
	hello, err := r.Next()
	if err != nil {
		return
	}
	rank, err := s.checkHello(hello)
	if err != nil {
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	if !s.emit(Event{Rank: rank, Msg: hello}) {
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
