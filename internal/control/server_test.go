package control

import (
	"encoding/json"
	"net"
	"path/filepath"
	"testing"
	"time"
)

const testSecret = "0123456789abcdef"

func listen(t *testing.T, size int) (*Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	s, err := Listen(path, testSecret, size)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func next(t *testing.T, s *Server) Event {
	t.Helper()
	select {
	case e := <-s.Events():
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("no control event within 30s")
		return Event{}
	}
}

// noEvent asserts that nothing arrives for a short while.
func noEvent(t *testing.T, s *Server) {
	t.Helper()
	select {
	case e := <-s.Events():
		t.Fatalf("unexpected event %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestServerDeliversMessagesInOrderThenClosed(t *testing.T) {
	s, path := listen(t, 3)
	c, err := Dial(path, 2, testSecret)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	e := next(t, s)
	if e.Rank != 2 || e.Msg.Type != TypeHello || e.Msg.PID == 0 {
		t.Fatalf("first event = %+v, want hello from rank 2 with a pid", e)
	}
	sent := []Message{
		{Type: TypeBlocked, Op: "Recv(source 1, tag 0)", Sent: []uint64{1, 2, 3}, Received: []uint64{4, 5, 6}},
		{Type: TypeRunning},
		{Type: TypeAbort, Code: 7, Reason: "bad input"},
		{Type: TypeFinalized},
	}
	for _, m := range sent {
		if err := c.Send(m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	for i, want := range sent {
		e := next(t, s)
		if e.Rank != 2 || e.Closed || e.Msg.Type != want.Type || e.Msg.Op != want.Op ||
			e.Msg.Code != want.Code || e.Msg.Reason != want.Reason || len(e.Msg.Sent) != len(want.Sent) {
			t.Fatalf("event %d = %+v, want %+v from rank 2", i, e, want)
		}
	}
	_ = c.Close()
	if e := next(t, s); !e.Closed || e.Rank != 2 {
		t.Fatalf("after Close got %+v, want Closed for rank 2", e)
	}
}

func TestServerForcesRankFromHello(t *testing.T) {
	s, path := listen(t, 2)
	c, err := Dial(path, 1, testSecret)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	next(t, s) // hello
	if err := c.Send(Message{Type: TypeAbort, Rank: 0, Code: 3}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if e := next(t, s); e.Rank != 1 || e.Msg.Rank != 1 {
		t.Fatalf("spoofed message arrived as %+v, want rank 1", e)
	}
}

func TestServerDropsBadHellos(t *testing.T) {
	cases := []struct {
		name string
		msg  Message
	}{
		{"wrong secret", Message{Type: TypeHello, Rank: 0, Secret: "nope"}},
		{"rank too large", Message{Type: TypeHello, Rank: 2, Secret: testSecret}},
		{"negative rank", Message{Type: TypeHello, Rank: -1, Secret: testSecret}},
		{"not a hello", Message{Type: TypeFinalized, Rank: 0, Secret: testSecret}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, path := listen(t, 2)
			conn := dial(t, path)
			if err := json.NewEncoder(conn).Encode(tc.msg); err != nil {
				t.Fatalf("write: %v", err)
			}
			// The server hangs up: our read ends with EOF, not a timeout.
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			buf := make([]byte, 1)
			if _, err := conn.Read(buf); err == nil {
				t.Fatal("server kept a connection with a bad hello")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("server did not drop a connection with a bad hello")
			}
			noEvent(t, s)
		})
	}
}

func TestServerCloseEndsRankWatch(t *testing.T) {
	s, path := listen(t, 1)
	c, err := Dial(path, 0, testSecret)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	next(t, s)
	gone := make(chan struct{})
	c.WatchLauncher(nil, func() { close(gone) })
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-gone:
	case <-time.After(30 * time.Second):
		t.Fatal("rank did not notice the launcher's Close")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestListenRejectsBadSize(t *testing.T) {
	if _, err := Listen(filepath.Join(t.TempDir(), "c.sock"), testSecret, 0); err == nil {
		t.Fatal("Listen accepted a job of size 0")
	}
}

// dial connects to the server's socket at path, closed when the test ends.
func dial(t *testing.T, path string) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// Sync answers only after every connection made before it has had its
// first message read: a rank that connected just before it exited is
// heard before the launcher concludes it never connected.
func TestServerSyncWaitsForEarlierHellos(t *testing.T) {
	s, path := listen(t, 2)
	early := dial(t, path)
	silent := dial(t, path)
	s.Sync(7)
	noEvent(t, s) // both earlier connections are still unread
	if err := json.NewEncoder(early).Encode(Message{Type: TypeHello, Rank: 1, Secret: testSecret}); err != nil {
		t.Fatalf("write: %v", err)
	}
	if e := next(t, s); e.Rank != 1 || e.Msg.Type != TypeHello || e.Synced {
		t.Fatalf("got %+v, want rank 1's hello before the sync", e)
	}
	noEvent(t, s) // the silent connection still holds the sync back
	_ = silent.Close()
	if e := next(t, s); !e.Synced || e.Rank != 7 {
		t.Fatalf("got %+v, want Synced for tag 7", e)
	}
	s.Sync(8) // nothing unread now
	if e := next(t, s); !e.Synced || e.Rank != 8 {
		t.Fatalf("got %+v, want Synced for tag 8", e)
	}
}

func TestServerIgnoresSyncWithoutSecret(t *testing.T) {
	s, path := listen(t, 1)
	conn := dial(t, path)
	if err := json.NewEncoder(conn).Encode(Message{Type: typeSync, Rank: 0, Secret: "nope"}); err != nil {
		t.Fatalf("write: %v", err)
	}
	noEvent(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s.Sync(1) // after Close: no event, no panic, no goroutine left behind
}
