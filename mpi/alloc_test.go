//go:build !race

// The race detector's sync.Pool drops what it is given at random, so the
// counts below hold only without it.

package mpi

import "testing"

// TestMessageAllocations counts what a blocking Send and Recv of a small
// message allocate once the engine's pools are warm, through a rank's
// loop back to itself (the path of a message in the engine, without a
// transport's): for a byte slice, the caller's box of the slice (Send
// takes an any) and the payload, which becomes the slice received; for an
// int, the box and the payload; with Isend and Irecv, the two Requests
// too. Anything more (a channel, a Request, a
// message struct, a call description, a descriptor, msgpack's buffers)
// is an allocation per message that issue 17 took out.
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
		}, 2},
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
		}, 4}, // and the two Requests, which the caller holds
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
