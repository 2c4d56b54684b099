package mpi

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/ranks"
)

// slowCTS is a Unix transport whose frames that holds picks never leave
// at once (TrySend declines them, as when the connection to the sender
// is still to be made) and, sent the slow way, wait until the receive has
// returned, or holdCTS has passed. It logs, in order, when such a frame
// is out and when the receive returned.
type slowCTS struct {
	*comm.Unix
	holds        func(comm.Header) bool
	recvReturned chan struct{}
	mu           sync.Mutex
	events       []string
}

// holdCTS bounds how long slowCTS holds a clear-to-send back. It only
// bounds the test's time: a receive that waits for its clear-to-send
// lets it go after holdCTS whatever the machine's load.
const holdCTS = 500 * time.Millisecond

func (s *slowCTS) note(event string) {
	s.mu.Lock()
	s.events = append(s.events, event)
	s.mu.Unlock()
}

func (s *slowCTS) TrySend(dest int, h comm.Header, payload []byte) (bool, error) {
	if s.holds(h) {
		return false, nil
	}
	return s.Unix.TrySend(dest, h, payload)
}

func (s *slowCTS) Send(ctx context.Context, dest int, h comm.Header, payload []byte) error {
	if !s.holds(h) {
		return s.Unix.Send(ctx, dest, h, payload)
	}
	select {
	case <-s.recvReturned:
	case <-time.After(holdCTS):
	}
	err := s.Unix.Send(ctx, dest, h, payload)
	s.note("clear-to-send out")
	return err
}

// TestPulledReceiveWaitsForItsClearToSend: a receive whose body was
// copied out of the sender's memory returns only once the clear-to-send
// that completes the send is out, also when that frame cannot leave at
// once. Returning first lets a caller that computes next, on a rank with
// one P, keep the goroutine carrying it from running until the next
// preemption, 10 ms or more, while its sender waits in Send.
func TestPulledReceiveWaitsForItsClearToSend(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("no single-copy path on this platform")
	}
	size := max(minPull, DefaultEagerLimit) + 12345 // a rendezvous pulled by the receiver alone: under minShare
	pulls := testReceiveWaitsForItsAnswer(t, func(h comm.Header) bool { return h.Kind == kindCTS && h.Tag == ctsPulled },
		func(c *Comm) error { return c.Send(sharePattern(size, 1), 1, 1) },
		func(c *Comm) error {
			var buf []byte
			_, err := c.Recv(&buf, 0, 1)
			if err == nil && !bytes.Equal(buf, sharePattern(size, 1)) {
				return fmt.Errorf("received %d bytes, not the %d sent", len(buf), size)
			}
			return err
		})
	if pulls != 1 {
		t.Errorf("%d bodies copied out of the sender's memory, want 1 (the test needs the single-copy path)", pulls)
	}
}

// TestSyncReceiveWaitsForItsAcknowledgement: a receive that takes a small
// synchronous message returns only once the acknowledgement that
// completes the Ssend is out, also when it cannot leave at once, for the
// same reason.
func TestSyncReceiveWaitsForItsAcknowledgement(t *testing.T) {
	testReceiveWaitsForItsAnswer(t, func(h comm.Header) bool { return h.Kind == kindCTS },
		func(c *Comm) error { return c.Ssend(42, 1, 1) },
		func(c *Comm) error {
			var v int
			if _, err := c.Recv(&v, 0, 1); err != nil || v != 42 {
				return fmt.Errorf("received %d, %v; want 42", v, err)
			}
			return nil
		})
}

// testReceiveWaitsForItsAnswer runs send on rank 0 and receive on rank 1,
// whose transport holds the frames that holds picks as slowCTS does, and
// checks that exactly one such frame left, before receive returned. It
// returns rank 1's count of bodies pulled.
func testReceiveWaitsForItsAnswer(t *testing.T, holds func(comm.Header) bool, send, receive func(*Comm) error) (pulls uint64) {
	t.Helper()
	job, err := ranks.Start(ranks.Unix, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	receiver := &slowCTS{Unix: job.Transports[1].(*comm.Unix), holds: holds, recvReturned: make(chan struct{})}
	job.Transports[1] = receiver
	open := func(tr comm.Transport) (*Comm, error) { return Init(WithTransport(tr)) }
	errs := ranks.RunWorlds(job, ranks.Limits{Timeout: ranks.TimeoutFor(t, jobTimeout)}, open, func(r int, c *Comm) error {
		if r == 0 {
			return send(c)
		}
		err := receive(c)
		receiver.note("Recv returned")
		close(receiver.recvReturned)
		pulls = c.e.pulls.Load()
		return err
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
	receiver.mu.Lock()
	defer receiver.mu.Unlock()
	if want := []string{"clear-to-send out", "Recv returned"}; !slices.Equal(receiver.events, want) {
		t.Errorf("events %q, want %q", receiver.events, want)
	}
	return pulls
}
