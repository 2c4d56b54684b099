package comm_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/comm/commtest"
)

// ringFrame is the i-th frame of a seeded test: its payload length and
// content follow from seed and i, so the receiver can check each one.
func ringPayload(seed uint64, i int, size int) []byte {
	b := make([]byte, size)
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	for j := range b {
		b[j] = byte(rng.Uint32())
	}
	return b
}

// TestUnixRingOrderAcrossPaths sends, from two ranks to one, frames of
// random sizes below and above a small ring's record limit (1 KiB with a
// 4 KiB ring), by Send, SendParts and TrySend, while the receiver
// alternately spins on Poll (SpinStart/SpinEnd), polls without spinning
// and sleeps, so frames take the ring, the socket when the ring is full or
// the frame too big, and wake-ups. Every frame must arrive once, intact,
// in each sender's order.
func TestUnixRingOrderAcrossPaths(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	us, _ := unixJob(t, 3, func(c *comm.UnixConfig) { c.RingSize = 4 << 10 })
	recs := startAll(t, us)
	const frames = 3000
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for src := 1; src <= 2; src++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(src)))
			for i := range frames {
				size := rng.IntN(1500)
				if rng.IntN(50) == 0 {
					size = 20 << 10 // a BufferProvider-sized frame, by the socket
				}
				p := ringPayload(seed+uint64(src), i, size)
				h := comm.Header{Kind: kindData, Tag: int32(src), Seq: uint64(i)}
				var err error
				switch rng.IntN(3) {
				case 0:
					err = us[src].Send(ctx, 0, h, p)
				case 1:
					cut := rng.IntN(len(p) + 1)
					err = us[src].SendParts(ctx, 0, h, p[:cut], p[cut:])
				default:
					var sent bool
					if sent, err = us[src].TrySend(0, h, p); err == nil && !sent {
						err = us[src].Send(ctx, 0, h, p)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		rng := rand.New(rand.NewPCG(seed, 0))
		for {
			select {
			case <-done:
				return
			default:
			}
			switch rng.IntN(3) {
			case 0:
				us[0].SpinStart()
				for range rng.IntN(200) {
					us[0].Poll()
				}
				us[0].SpinEnd()
			case 1:
				us[0].Poll()
			default:
				recs[0].WaitFor(t, "any frame", func(f []comm.Frame, _ map[int]error) bool { return true })
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	recs[0].WaitFor(t, "every frame", func(f []comm.Frame, _ map[int]error) bool { return len(f) == 2*frames })
	close(done)
	checkRingFrames(t, recs[0].Frames(), seed)
	if !comm.UnixRingTo(us[1], 0) || !comm.UnixRingTo(us[2], 0) {
		t.Errorf("the connections to rank 0 carry no ring")
	}
}

// checkRingFrames checks frames from ranks 1 and 2 sent as the ring tests
// send them (tag the source, Seq counting, payloads from ringPayload with
// seed): each arrived once, intact, in its sender's order.
func checkRingFrames(t *testing.T, frames []comm.Frame, seed uint64) {
	t.Helper()
	next := map[int32]uint64{}
	for _, f := range frames {
		if uint64(f.Tag) != uint64(f.Source) || f.Seq != next[f.Source] {
			t.Fatalf("from rank %d: frame %d (tag %d) where %d was due", f.Source, f.Seq, f.Tag, next[f.Source])
		}
		want := ringPayload(seed+uint64(f.Source), int(f.Seq), len(f.Payload))
		if !bytes.Equal(f.Payload, want) {
			t.Fatalf("from rank %d: frame %d (%d bytes) corrupted", f.Source, f.Seq, len(f.Payload))
		}
		next[f.Source]++
	}
}

// TestUnixRingWakesASleepingReader: a receiver that never polls gets
// every ring frame, one at a time (each needs its wake-up).
func TestUnixRingWakesASleepingReader(t *testing.T) {
	us, _ := unixJob(t, 2, nil)
	recs := startAll(t, us)
	ctx := context.Background()
	for i := range 200 {
		if err := us[1].Send(ctx, 0, comm.Header{Kind: kindData, Seq: uint64(i)}, []byte("ping")); err != nil {
			t.Fatal(err)
		}
		recs[0].WaitFor(t, "the frame", func(f []comm.Frame, _ map[int]error) bool { return len(f) == i+1 })
	}
	if !comm.UnixRingTo(us[1], 0) {
		t.Fatalf("the connection carries no ring")
	}
}

// ringPair starts a job of two ranks with recorders and has rank 1 send
// rank 0 a first frame, so that the connection from rank 1 to rank 0,
// and its ring, exist; it returns once rank 0 got that frame.
func ringPair(t *testing.T) ([]*comm.Unix, []*commtest.Recorder) {
	t.Helper()
	us, _ := unixJob(t, 2, nil)
	recs := startAll(t, us)
	if err := us[1].Send(context.Background(), 0, comm.Header{Kind: kindData}, []byte("connect")); err != nil {
		t.Fatal(err)
	}
	recs[0].WaitFor(t, "the first frame", func(f []comm.Frame, _ map[int]error) bool { return len(f) == 1 })
	return us, recs
}

// TestUnixRingSpinEndDeliversWhatWasPublished: a frame written while the
// receiver spins (so no wake-up is sent) and not polled is delivered once
// the spinning ends (SpinEnd settles the ring, or has its holder do it).
func TestUnixRingSpinEndDeliversWhatWasPublished(t *testing.T) {
	us, recs := ringPair(t)
	ctx := context.Background()
	for round := range 100 {
		us[0].SpinStart()
		if err := us[1].Send(ctx, 0, comm.Header{Kind: kindData, Seq: uint64(round + 1)}, []byte("x")); err != nil {
			t.Fatal(err)
		}
		us[0].SpinEnd()
		// No wake-up was asked for: a frame SpinEnd left in the ring
		// would stay there.
		recs[0].WaitFor(t, "the frame published while spinning", func(f []comm.Frame, _ map[int]error) bool { return len(f) == round+2 })
	}
}

// goneCounter records how many frames had arrived when PeerGone came.
type goneCounter struct {
	*commtest.Recorder
	mu     sync.Mutex
	frames int
	atGone int
}

func (g *goneCounter) Deliver(f comm.Frame) {
	g.mu.Lock()
	g.frames++
	g.mu.Unlock()
	g.Recorder.Deliver(f)
}

func (g *goneCounter) PeerGone(rank int, err error) {
	g.mu.Lock()
	g.atGone = g.frames
	g.mu.Unlock()
	g.Recorder.PeerGone(rank, err)
}

// TestUnixRingFramesBeforePeerGone: frames left in the ring when the
// sender crashes, or closes, are delivered before PeerGone, which says
// lost or finished.
func TestUnixRingFramesBeforePeerGone(t *testing.T) {
	for _, crash := range []bool{true, false} {
		us, _ := unixJob(t, 2, nil)
		g := &goneCounter{Recorder: commtest.NewRecorder()}
		if err := us[0].Start(g); err != nil {
			t.Fatal(err)
		}
		if err := us[1].Start(commtest.NewRecorder()); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := us[1].Send(ctx, 0, comm.Header{Kind: kindData}, []byte("connect")); err != nil {
			t.Fatal(err)
		}
		g.WaitFor(t, "the first frame", func(f []comm.Frame, _ map[int]error) bool { return len(f) == 1 })
		us[0].SpinStart() // no wake-ups: the frames stay in the ring
		const n = 50
		for i := 1; i <= n; i++ {
			if err := us[1].Send(ctx, 0, comm.Header{Kind: kindData, Seq: uint64(i)}, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		want := comm.ErrPeerFinished
		if crash {
			comm.CrashUnix(us[1])
			want = comm.ErrPeerLost
		} else {
			us[1].Close()
		}
		g.WaitFor(t, "rank 1 gone", func(_ []comm.Frame, gone map[int]error) bool { return gone[1] != nil })
		us[0].SpinEnd()
		err, _ := g.Gone(1)
		g.mu.Lock()
		atGone := g.atGone
		g.mu.Unlock()
		if !errors.Is(err, want) || atGone != n+1 {
			t.Errorf("crash %v: PeerGone(%v) after %d frames, want %v after %d", crash, err, atGone, want, n+1)
		}
		for i, f := range g.Frames() {
			if f.Seq != uint64(i) {
				t.Fatalf("crash %v: frame %d has seq %d", crash, i, f.Seq)
			}
		}
		us[0].Close()
	}
}

// TestUnixRingScribbledByPeer: a ring whose head a peer set to nonsense
// ends the connection as lost, without a panic. (FuzzUnixRingRecords
// tries the records' bytes.)
func TestUnixRingScribbledByPeer(t *testing.T) {
	for _, head := range []uint64{1, 7, 1 << 40, ^uint64(0)} {
		us, recs := ringPair(t)
		if !comm.ScribbleUnixRingHead(us[0], 1, head) {
			t.Fatalf("no ring from rank 1")
		}
		us[0].Poll()
		recs[0].WaitFor(t, "rank 1 lost", func(_ []comm.Frame, gone map[int]error) bool { return gone[1] != nil })
		if err, _ := recs[0].Gone(1); !errors.Is(err, comm.ErrPeerLost) {
			t.Errorf("head %d: PeerGone(%v), want ErrPeerLost", head, err)
		}
	}
}

// TestUnixRingSendNeedsNoWakeUpToSucceed: a frame placed in the ring has
// been handed over, even when the wake-up that follows it cannot be sent
// because the reader has just finished (it may have read the frame
// without one). That send succeeds; the next one to the finished rank
// fails with ErrPeerFinished.
func TestUnixRingSendNeedsNoWakeUpToSucceed(t *testing.T) {
	us, _ := ringPair(t)
	ctx := context.Background()
	us[0].Close()
	if !comm.MarkUnixRingReaderAsleep(us[1], 0) {
		t.Fatal("no ring from rank 1 to rank 0")
	}
	if err := us[1].Send(ctx, 0, comm.Header{Kind: kindData, Seq: 1}, []byte("last")); err != nil {
		t.Errorf("a frame placed in the ring failed for want of a wake-up: %v", err)
	}
	if err := us[1].Send(ctx, 0, comm.Header{Kind: kindData, Seq: 2}, []byte("after")); !errors.Is(err, comm.ErrPeerFinished) {
		t.Errorf("a send after the wake-up failed: %v, want ErrPeerFinished", err)
	}
}
