package mpi

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/ranks"
)

// shareCase is one large message of a shared-copy test: its size, and
// whether the receive target has room for it (else the body lands in a
// slice of its own).
type shareCase struct {
	size int
	room bool
}

// shareCases draws n message sizes from seed: around minShare (below it
// no copy is shared) and up to 9 MiB, odd sizes included.
func shareCases(seed uint64, n int) []shareCase {
	rng := rand.New(rand.NewPCG(seed, 1))
	cases := []shareCase{{minShare - 1, true}, {minShare, true}, {minShare + 1, false}}
	for len(cases) < n {
		cases = append(cases, shareCase{minShare + rng.IntN(8<<20), rng.IntN(4) != 0})
	}
	return cases
}

// pattern is size bytes that differ from message to message.
func sharePattern(size, msg int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i>>12 + msg*13)
	}
	return b
}

// runShareJob sends every case from rank 0 to rank 1 with a blocking Send,
// a small message after each (which must arrive after it), and checks on
// rank 1 every byte, that a target with room got the body in place and
// that no byte beyond the body was written. wrap, when not nil, wraps
// each rank's transport. It returns rank 1's counts of bodies pulled and
// of bodies part-written by the sender.
func runShareJob(t *testing.T, cases []shareCase, wrap func(rank int, tr *comm.Unix) comm.Transport) (pulls, shared uint64) {
	t.Helper()
	job, err := ranks.Start(ranks.Unix, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	if wrap != nil {
		for r, tr := range job.Transports {
			job.Transports[r] = wrap(r, tr.(*comm.Unix))
		}
	}
	open := func(tr comm.Transport) (*Comm, error) { return Init(WithTransport(tr)) }
	errs := ranks.RunWorlds(job, ranks.Limits{Timeout: ranks.TimeoutFor(t, jobTimeout)}, open, func(r int, c *Comm) error {
		// Both ways first, so each rank's connection to the other is up.
		if _, err := c.Sendrecv(r, 1-r, 0, new(int), 1-r, 0); err != nil {
			return err
		}
		if r == 0 {
			for i, tc := range cases {
				msg := sharePattern(tc.size, i)
				if err := c.Send(msg, 1, 1); err != nil {
					return fmt.Errorf("message %d (%d bytes): %w", i, tc.size, err)
				}
				if !bytes.Equal(msg, sharePattern(tc.size, i)) {
					return fmt.Errorf("message %d: the sender's buffer changed", i)
				}
				if err := c.Send(i, 1, 2); err != nil {
					return err
				}
			}
			return nil
		}
		defer func() { pulls, shared = c.e.pulls.Load(), c.e.shared.Load() }()
		const guard = 4096
		for i, tc := range cases {
			buf := make([]byte, 0, 100)
			if tc.room {
				buf = bytes.Repeat([]byte{0xEE}, tc.size+guard)[:0]
			}
			if _, err := c.Recv(&buf, 0, 1); err != nil {
				return fmt.Errorf("message %d (%d bytes): %w", i, tc.size, err)
			}
			if !bytes.Equal(buf, sharePattern(tc.size, i)) {
				return fmt.Errorf("message %d (%d bytes): wrong bytes", i, tc.size)
			}
			if tc.room && (cap(buf) != tc.size+guard || !bytes.Equal(buf[tc.size:tc.size+guard], bytes.Repeat([]byte{0xEE}, guard))) {
				return fmt.Errorf("message %d (%d bytes): not received in place, or bytes beyond the body written", i, tc.size)
			}
			var after int
			if _, err := c.Recv(&after, 0, 2); err != nil || after != i {
				return fmt.Errorf("the small message after message %d: %d, %v", i, after, err)
			}
		}
		return nil
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
	return pulls, shared
}

// TestSharedCopyDeliversEveryByte: large messages between ranks on their
// own cores are copied by both sides, every byte lands where it belongs,
// and a message under minShare is pulled by the receiver alone.
func TestSharedCopyDeliversEveryByte(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("no single-copy path on this platform")
	}
	cases := shareCases(17, 12)
	pulls, shared := runShareJob(t, cases, nil)
	if want := uint64(len(cases)); pulls != want {
		t.Errorf("%d bodies copied out of the sender's memory, want %d", pulls, want)
	}
	if want := uint64(len(cases) - 1); shared != want {
		t.Errorf("%d bodies part-written by the sender, want %d (every one of minShare bytes or more)", shared, want)
	}
}

// faultyCopies is a Unix transport whose copies between processes fail
// as told.
type faultyCopies struct {
	*comm.Unix
	failReads, failWrites bool
}

var errInjected = errors.New("injected copy failure")

func (f faultyCopies) ReadPeerMemory(rank int, addr uint64, dst []byte) error {
	if f.failReads {
		return errInjected
	}
	return f.Unix.ReadPeerMemory(rank, addr, dst)
}

func (f faultyCopies) WritePeerMemory(rank int, addr uint64, src []byte) error {
	if f.failWrites {
		return errInjected
	}
	return f.Unix.WritePeerMemory(rank, addr, src)
}

// TestSharedCopyFallsBack: when the sender cannot write its share the
// receiver copies it; when the receiver cannot read the sender's memory the
// body comes through the socket; either way every byte arrives.
func TestSharedCopyFallsBack(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("no single-copy path on this platform")
	}
	for _, tc := range []struct {
		name                  string
		failReads, failWrites bool
		pulls, shared         uint64
	}{
		{"sender cannot write", false, true, 6, 0},
		{"receiver cannot read", true, false, 0, 5},
		{"neither can copy", true, true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pulls, shared := runShareJob(t, shareCases(23, 6), func(rank int, tr *comm.Unix) comm.Transport {
				return faultyCopies{Unix: tr, failReads: tc.failReads && rank == 1, failWrites: tc.failWrites && rank == 0}
			})
			if pulls != tc.pulls || shared != tc.shared {
				t.Errorf("%d bodies pulled, %d part-written by the sender; want %d and %d", pulls, shared, tc.pulls, tc.shared)
			}
		})
	}
}

// hookedCopies is a Unix transport that runs a hook before each write
// into a peer's memory.
type hookedCopies struct {
	*comm.Unix
	beforeWrite func()
}

func (h hookedCopies) WritePeerMemory(rank int, addr uint64, src []byte) error {
	h.beforeWrite()
	return h.Unix.WritePeerMemory(rank, addr, src)
}

// TestSharedCopyPeerLost: a peer lost in the middle of a shared copy
// fails the other side's call with ErrPeerLost instead of leaving it
// waiting. The loss is reported to the engine as the transport would when
// the peer's process dies, at the moment the sender starts writing its
// share: once to the receiver (which then waits for no share any more),
// once to the sender (whose receiver then never answers).
func TestSharedCopyPeerLost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("no single-copy path on this platform")
	}
	for _, lost := range []int{0, 1} {
		t.Run(fmt.Sprintf("rank %d lost", lost), func(t *testing.T) {
			job, err := ranks.Start(ranks.Unix, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer job.Close()
			engines := make(chan *engine, 2)
			var byRank [2]*engine
			crash := errors.New("process killed (simulated)")
			job.Transports[0] = hookedCopies{Unix: job.Transports[0].(*comm.Unix), beforeWrite: func() {
				// The survivor learns that the other rank died.
				survivor := 1 - lost
				byRank[survivor].PeerGone(lost, crash)
			}}
			open := func(tr comm.Transport) (*Comm, error) { return Init(WithTransport(tr)) }
			errs := ranks.RunWorlds(job, ranks.Limits{Timeout: ranks.TimeoutFor(t, jobTimeout)}, open, func(r int, c *Comm) error {
				engines <- c.e
				if _, err := c.Sendrecv(r, 1-r, 0, new(int), 1-r, 0); err != nil {
					return err
				}
				if r == 0 {
					for range 2 {
						e := <-engines
						byRank[e.rank] = e
					}
					msg := sharePattern(4<<20, 0)
					err := c.Send(msg, 1, 1)
					if lost == 1 && !errors.Is(err, ErrPeerLost) {
						return fmt.Errorf("Send to a receiver lost mid-copy: %v, want ErrPeerLost", err)
					}
					return nil
				}
				var buf []byte
				_, err := c.Recv(&buf, 0, 1)
				if lost == 0 && !errors.Is(err, ErrPeerLost) {
					return fmt.Errorf("Recv from a sender lost mid-copy: %v, want ErrPeerLost", err)
				}
				return nil
			})
			for r, err := range errs {
				if err != nil {
					t.Errorf("rank %d: %v", r, err)
				}
			}
		})
	}
}
