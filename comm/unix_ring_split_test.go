package comm_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/comm/commtest"
)

// splitter is a Handler that takes ring frames in two parts
// (comm.SplitBufferProvider): a head whose length the payload's second
// byte picks (0..SplitPeek) and the rest into memory of its own, or, when
// the payload's first byte is a multiple of 4, declines. It puts each
// payload back together before recording the frame, and counts what it
// was asked, so that a test can check every byte of every frame.
type splitter struct {
	rec             *commtest.Recorder
	mu              sync.Mutex
	bodies          map[int32][]byte // per source: the body of the frame being read
	splits, refused atomic.Int64
	wrongPeek       atomic.Int64
}

func newSplitter() *splitter {
	return &splitter{rec: commtest.NewRecorder(), bodies: map[int32][]byte{}}
}

func (s *splitter) BufferFor(h comm.Header, length int) []byte { return nil }

func (s *splitter) SplitBuffers(h comm.Header, length int, first []byte) (head, body []byte) {
	if len(first) != comm.SplitPeek || length < comm.SplitThreshold {
		s.wrongPeek.Add(1)
	}
	if first[0]%4 == 0 {
		s.refused.Add(1)
		return nil, nil
	}
	n := int(first[1]) % (comm.SplitPeek + 1)
	head, body = make([]byte, n), make([]byte, length-n)
	s.mu.Lock()
	s.bodies[h.Source] = body
	s.mu.Unlock()
	s.splits.Add(1)
	return head, body
}

func (s *splitter) Deliver(f comm.Frame) {
	s.mu.Lock()
	body, ok := s.bodies[f.Source]
	delete(s.bodies, f.Source)
	s.mu.Unlock()
	if ok {
		f.Payload = append(append([]byte{}, f.Payload...), body...)
	}
	s.rec.Deliver(f)
}

func (s *splitter) PeerGone(rank int, err error) { s.rec.PeerGone(rank, err) }

// TestUnixRingSplitBuffers sends, from two ranks to one, frames of random
// sizes around a 64 KiB ring's record limit (16 KiB), so that the ring
// wraps under records of every length and the larger frames go by the
// socket, to a receiver that takes some of them in two parts
// (SplitBufferProvider) and declines others. Every frame must arrive
// once, intact, in each sender's order; the split ones were shown their
// first SplitPeek bytes, and only ring frames of SplitThreshold bytes or
// more were split.
func TestUnixRingSplitBuffers(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	us, _ := unixJob(t, 3, func(c *comm.UnixConfig) { c.RingSize = 64 << 10 })
	sp := newSplitter()
	if err := us[0].Start(sp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { us[0].Close() })
	for _, u := range us[1:] {
		if err := u.Start(commtest.NewRecorder()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { u.Close() })
	}
	const frames = 1500
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for src := 1; src <= 2; src++ {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(src)))
			for i := range frames {
				size := rng.IntN(20 << 10)
				p := ringPayload(seed+uint64(src), i, size)
				if err := us[src].Send(ctx, 0, comm.Header{Kind: kindData, Tag: int32(src), Seq: uint64(i)}, p); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	spin := make(chan struct{})
	go func() {
		for {
			select {
			case <-spin:
				return
			default:
				us[0].Poll()
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sp.rec.WaitFor(t, "every frame", func(f []comm.Frame, _ map[int]error) bool { return len(f) == 2*frames })
	close(spin)
	checkRingFrames(t, sp.rec.Frames(), seed)
	t.Logf("%d frames split, %d declined", sp.splits.Load(), sp.refused.Load())
	if sp.wrongPeek.Load() != 0 {
		t.Errorf("%d calls of SplitBuffers with a short peek or for a short frame", sp.wrongPeek.Load())
	}
	if sp.splits.Load() == 0 || sp.refused.Load() == 0 {
		t.Errorf("%d frames split and %d declined: want some of each", sp.splits.Load(), sp.refused.Load())
	}
}
