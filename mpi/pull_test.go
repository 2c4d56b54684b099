package mpi

import (
	"bytes"
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/ranks"
)

// slowCTS is a Unix transport whose clear-to-send marked ctsPulled never
// leaves at once (TrySend declines it, as when the connection to the
// sender is still to be made) and, sent the slow way, waits until the
// receive has returned, or holdCTS has passed. It logs, in order, when
// that clear-to-send is out and when the receive returned.
type slowCTS struct {
	*comm.Unix
	recvReturned chan struct{}
	mu           sync.Mutex
	events       []string
}

// holdCTS bounds how long slowCTS holds a clear-to-send back. It only
// bounds the test's time: a receive that waits for its clear-to-send
// lets it go after holdCTS whatever the machine's load.
const holdCTS = 500 * time.Millisecond

func isPulledCTS(h comm.Header) bool { return h.Kind == kindCTS && h.Tag == ctsPulled }

func (s *slowCTS) note(event string) {
	s.mu.Lock()
	s.events = append(s.events, event)
	s.mu.Unlock()
}

func (s *slowCTS) TrySend(dest int, h comm.Header, payload []byte) (bool, error) {
	if isPulledCTS(h) {
		return false, nil
	}
	return s.Unix.TrySend(dest, h, payload)
}

func (s *slowCTS) Send(ctx context.Context, dest int, h comm.Header, payload []byte) error {
	if !isPulledCTS(h) {
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
	job, err := ranks.Start(ranks.Unix, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	receiver := &slowCTS{Unix: job.Transports[1].(*comm.Unix), recvReturned: make(chan struct{})}
	job.Transports[1] = receiver
	size := minPull + 12345 // pulled by the receiver alone: under minShare
	var pulls uint64
	open := func(tr comm.Transport) (*Comm, error) { return Init(WithTransport(tr)) }
	errs := ranks.RunWorlds(job, ranks.Limits{Timeout: ranks.TimeoutFor(t, jobTimeout)}, open, func(r int, c *Comm) error {
		if r == 0 {
			return c.Send(sharePattern(size, 1), 1, 1)
		}
		var buf []byte
		_, err := c.Recv(&buf, 0, 1)
		receiver.note("Recv returned")
		close(receiver.recvReturned)
		pulls = c.e.pulls.Load()
		if err == nil && !bytes.Equal(buf, sharePattern(size, 1)) {
			t.Errorf("received %d bytes, not the %d sent", len(buf), size)
		}
		return err
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
	if pulls != 1 {
		t.Fatalf("%d bodies copied out of the sender's memory, want 1 (the test needs the single-copy path)", pulls)
	}
	if want := []string{"clear-to-send out", "Recv returned"}; !slices.Equal(receiver.events, want) {
		t.Errorf("events %q, want %q", receiver.events, want)
	}
}
