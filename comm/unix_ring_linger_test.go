package comm_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
)

// TestUnixRingLingerDeliversWithoutPolling: a frame published while the
// receiver spins, or after it stopped by SpinLinger, gets no wake-up frame;
// with nobody polling after that, only the linger timer can deliver it.
// The receiver then waits without polling: a linger that never asked for
// wake-ups or never drained the ring would leave the frame there and the
// wait would fail.
func TestUnixRingLingerDeliversWithoutPolling(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	us, recs := ringPair(t)
	ctx := context.Background()
	for round := 1; round <= 200; round++ {
		h := comm.Header{Kind: kindData, Seq: uint64(round)}
		us[0].SpinStart()
		before := rng.IntN(2) == 0
		if before {
			if err := us[1].Send(ctx, 0, h, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		us[0].SpinLinger()
		if !before {
			if rng.IntN(2) == 0 {
				time.Sleep(time.Duration(rng.IntN(100)) * time.Microsecond)
			}
			if err := us[1].Send(ctx, 0, h, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		recs[0].WaitFor(t, "the frame published while lingering", func(f []comm.Frame, _ map[int]error) bool { return len(f) == round+1 })
	}
}

// TestUnixRingLingerStress: several goroutines of the receiver start and
// end polling loops at random (SpinStart, a few polls, then SpinLinger or
// SpinEnd, nested and overlapping) while two senders send frames at random
// gaps; then the receiver stops polling altogether and the senders send
// their last frames at once. Every frame must arrive, in order per sender,
// without anyone polling at the end (each left in a ring with no wake-up
// asked would be lost).
func TestUnixRingLingerStress(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	us, _ := unixJob(t, 3, nil)
	recs := startAll(t, us)
	const frames = 2000
	ctx := context.Background()
	var senders, pollers sync.WaitGroup
	errs := make(chan error, 2)
	stop, stopped := make(chan struct{}), make(chan struct{})
	for src := 1; src <= 2; src++ {
		senders.Add(1)
		go func() {
			defer senders.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(src)))
			for i := range frames {
				if i == frames-50 {
					<-stopped // the last frames: nobody polls any more
				}
				if rng.IntN(20) == 0 && i < frames-50 {
					time.Sleep(time.Duration(rng.IntN(150)) * time.Microsecond)
				}
				if err := us[src].Send(ctx, 0, comm.Header{Kind: kindData, Tag: int32(src), Seq: uint64(i)}, []byte{byte(i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for g := range 3 {
		pollers.Add(1)
		go func() {
			defer pollers.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(10+g)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				us[0].SpinStart()
				for range rng.IntN(50) {
					us[0].Poll()
				}
				if rng.IntN(4) == 0 {
					us[0].SpinEnd()
				} else {
					us[0].SpinLinger()
				}
				if rng.IntN(10) == 0 {
					time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	pollers.Wait()
	close(stopped)
	senders.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	recs[0].WaitFor(t, "every frame with nobody polling", func(f []comm.Frame, _ map[int]error) bool { return len(f) == 2*frames })
	next := map[int32]uint64{}
	for _, f := range recs[0].Frames() {
		if f.Seq != next[f.Source] || int32(f.Tag) != f.Source {
			t.Fatalf("from rank %d: frame %d where %d was due", f.Source, f.Seq, next[f.Source])
		}
		next[f.Source]++
	}
}
