//go:build !race

// The race detector's sync.Pool drops what it is given at random, so the
// counts below hold only without it.

package mpi

import (
	"errors"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/gorun-mpi/gorun/internal/ranks"
)

// TestMessageAllocations counts what a blocking Send and Recv of a small
// message allocate once the engine's pools are warm, through a rank's
// loop back to itself (the path of a message in the engine, without a
// transport's): for a byte slice, the payload, which becomes the slice
// received (the caller's box of the slice, which Send takes as an any,
// stays on its stack: boxes.go); for an int, the box msgpack encodes and
// the payload; with Isend and Irecv, the two Requests too. Anything more
// (a channel, a Request, a message struct, a call description, a
// descriptor, msgpack's buffers, the caller's box) is an allocation per
// message that issue 17 took out.
func TestMessageAllocations(t *testing.T) {
	t.Setenv("GORUN_RANK", "")
	world, err := startWorld(nil, 0, 1, nil, config{eagerLimit: DefaultEagerLimit})
	if err != nil {
		t.Fatal(err)
	}
	defer world.Finalize()
	msg := make([]byte, 8)
	n := 1000
	for _, c := range []struct {
		name string
		call func()
		max  float64
	}{
		{"[]byte", func() {
			if err := world.Send(msg, 0, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := world.Recv(&msg, 0, 0); err != nil || len(msg) != 8 {
				t.Fatal(len(msg), err)
			}
		}, 1},
		{"int", func() {
			if err := world.Send(n+1, 0, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := world.Recv(&n, 0, 0); err != nil {
				t.Fatal(err)
			}
		}, 2},
		{"Isend, Irecv+Wait", func() {
			send := world.Isend(msg, 0, 0)
			if _, err := world.Irecv(&msg, 0, 0).Wait(); err != nil {
				t.Fatal(err)
			}
			if _, err := send.Wait(); err != nil {
				t.Fatal(err)
			}
		}, 3}, // and the two Requests, which the caller holds
	} {
		c.call() // warm the pools
		got := testing.AllocsPerRun(200, c.call)
		t.Logf("%s: %.1f allocations per message", c.name, got)
		if got > c.max {
			t.Errorf("%s: %.1f allocations per message, want at most %.0f", c.name, got, c.max)
		}
	}
	if n != 1000+201+1 {
		t.Errorf("the int went round %d times, want %d", n-1000, 202)
	}
}

// TestRoundTripAllocationsOverUnix counts what a ping-pong of small byte
// slices between two ranks allocates over the Unix transport, rings and
// socket, once warm: nothing. Each Send's box of the slice (Send takes an
// any) stays on the caller's stack (boxes.go; it cost 13% of an 8-byte
// ping-pong's mean on the heap). The payload is read into a recycled
// message's spare buffer and copied into the receive target, which has
// room: the slice received is the target's own memory. A payload allocated per message (as before issue
// 17's last change) makes it 2 per round trip. The ranks poll rather than
// sleep (WithSpin), as ranks of their own processes on their own cores do:
// a receive that sleeps allocates its wake-up.
func TestRoundTripAllocationsOverUnix(t *testing.T) {
	const runs = 2000
	for _, size := range []int{8, 1000, 8000, 40000} {
		var got float64
		errs := runOver(t, ranks.Unix, 2, func(c *Comm) error {
			msg := make([]byte, size)
			addr := unsafe.SliceData(msg)
			peer := 1 - c.Rank()
			check := func() error {
				if len(msg) != size || unsafe.SliceData(msg) != addr {
					return errors.New("the message was not received into the target's memory")
				}
				return nil
			}
			if c.Rank() == 1 {
				for range runs + 10 {
					if _, err := c.Recv(&msg, peer, 0); err != nil {
						return err
					}
					if err := check(); err != nil {
						return err
					}
					if err := c.Send(msg, peer, 0); err != nil {
						return err
					}
				}
				return nil
			}
			var err error
			roundTrip := func() {
				if err == nil {
					err = c.Send(msg, peer, 0)
				}
				if err == nil {
					_, err = c.Recv(&msg, peer, 0)
				}
				if err == nil {
					err = check()
				}
			}
			for range 10 {
				roundTrip() // warm the pools and the rings
			}
			got = mallocsPerCall(runs, roundTrip)
			return err
		}, WithSpin(time.Second))
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d bytes: %.2f allocations per round trip", size, got)
		if got > 0.2 {
			t.Errorf("%d bytes: %.2f allocations per round trip (both ranks), want 0", size, got)
		}
	}
}

// mallocsPerCall is testing.AllocsPerRun without its GOMAXPROCS(1), under
// which two ranks of one process that poll take turns only when the
// scheduler preempts one: it counts the whole process's allocations.
func mallocsPerCall(runs int, f func()) float64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(runs)
}
