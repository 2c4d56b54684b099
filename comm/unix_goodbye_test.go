package comm_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/comm/commtest"
)

// goodbyeJob makes the rank-th transport of a 2-rank job in dir, whose
// dials wait an hour for a peer to come up: a Close that waited for a peer
// not listening would hang the test.
func goodbyeJob(t *testing.T, dir string, rank int) *comm.Unix {
	t.Helper()
	u, err := comm.NewUnix(comm.UnixConfig{Rank: rank, Size: 2, Dir: dir, Secret: "goodbye-secret", DialTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func goodbyeDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestUnixCloseDoesNotWaitForAPeerNotListening: rank 0 finishes before rank
// 1 has even made its transport. Its Close leaves the goodbye in the job
// directory instead of waiting (the dial timeout is an hour), and rank 1, made
// afterwards, learns that rank 0 finished.
func TestUnixCloseDoesNotWaitForAPeerNotListening(t *testing.T) {
	dir := goodbyeDir(t)
	u0 := goodbyeJob(t, dir, 0)
	if err := u0.Start(commtest.NewRecorder()); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- u0.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close is waiting for rank 1, which is not listening")
	}
	u1 := goodbyeJob(t, dir, 1)
	rec := commtest.NewRecorder()
	if err := u1.Start(rec); err != nil {
		t.Fatal(err)
	}
	defer u1.Close()
	rec.WaitFor(t, "rank 0 reported gone", func(_ []comm.Frame, gone map[int]error) bool { _, ok := gone[0]; return ok })
	if err, _ := rec.Gone(0); !errors.Is(err, comm.ErrPeerFinished) {
		t.Errorf("rank 0 gone with %v, want ErrPeerFinished", err)
	}
}

// TestUnixGoodbyeRacesThePeerStarting races, at seeded random offsets,
// rank 0's Send and Close against rank 1 making its transport. Whichever
// wins, rank 1 hears of rank 0's end exactly once, as finished, and only
// after every frame whose Send succeeded.
func TestUnixGoodbyeRacesThePeerStarting(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range 40 {
		dir := goodbyeDir(t)
		u0 := goodbyeJob(t, dir, 0)
		if err := u0.Start(commtest.NewRecorder()); err != nil {
			t.Fatal(err)
		}
		startAfter := time.Duration(rng.IntN(400)) * time.Microsecond
		closeAfter := time.Duration(rng.IntN(400)) * time.Microsecond
		send := rng.IntN(2) == 0
		started := make(chan *commtest.Recorder, 1)
		var u1 *comm.Unix
		go func() {
			time.Sleep(startAfter)
			u1 = goodbyeJob(t, dir, 1)
			rec := commtest.NewRecorder()
			if err := u1.Start(rec); err != nil {
				t.Error(err)
			}
			started <- rec
		}()
		sent := make(chan error, 1)
		if send {
			go func() { sent <- u0.Send(context.Background(), 1, comm.Header{Kind: kindData}, []byte("x")) }()
		} else {
			sent <- errors.New("no send")
		}
		time.Sleep(closeAfter)
		if err := u0.Close(); err != nil {
			t.Fatalf("run %d: Close: %v", i, err)
		}
		sendErr := <-sent
		rec := <-started
		rec.WaitFor(t, "rank 0 reported gone", func(_ []comm.Frame, gone map[int]error) bool { _, ok := gone[0]; return ok })
		if err, _ := rec.Gone(0); !errors.Is(err, comm.ErrPeerFinished) {
			t.Errorf("run %d (start after %v, close after %v, send %v): rank 0 gone with %v, want ErrPeerFinished", i, startAfter, closeAfter, send, err)
		}
		if send && sendErr == nil && len(rec.Frames()) != 1 {
			t.Errorf("run %d (start after %v, close after %v): Send succeeded but rank 1 got %d frames before rank 0's end", i, startAfter, closeAfter, len(rec.Frames()))
		}
		if d := rec.Duplicates(); len(d) > 0 {
			t.Errorf("run %d: ranks reported gone twice: %v", i, d)
		}
		u1.Close()
	}
}
