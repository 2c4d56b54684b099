package mpi

import (
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/control"
)

// A rank asleep in Recv reports itself blocked to the launcher with the call
// and its frame counters, and reports running again once it wakes.
func TestBlockedCallIsReportedToLauncher(t *testing.T) {
	ctl, msgs := launcherUnderTest(t)

	net2 := comm.NewNetwork(2)
	w0, err := startWorld(net2.Transport(0), 0, 2, ctl, config{eagerLimit: DefaultEagerLimit})
	if err != nil {
		t.Fatal(err)
	}
	w1, _ := Init(WithTransport(net2.Transport(1)))
	defer w1.Finalize()
	defer w0.Finalize()

	if err := w1.Send("first", 0, 0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var s string
		w0.Recv(&s, 1, 0) // takes "first" at once: no report
		w0.Recv(&s, 1, 4) // sleeps until rank 1 sends tag 4
	}()

	next := func() control.Message {
		t.Helper()
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("control connection closed")
			}
			return m
		case <-time.After(30 * time.Second):
			t.Fatal("no control message within 30s")
		}
		return control.Message{}
	}
	if m := next(); m.Type != control.TypeHello {
		t.Fatalf("first message %+v, want hello", m)
	}
	m := next()
	if m.Type != control.TypeBlocked || !strings.Contains(m.Op, "Recv(source 1, tag 4)") {
		t.Fatalf("got %+v, want blocked in Recv(source 1, tag 4)", m)
	}
	if len(m.Received) != 2 || m.Received[1] != 1 || m.Sent[1] != 0 {
		t.Fatalf("counters sent=%v received=%v, want one frame received from rank 1", m.Sent, m.Received)
	}
	if err := w1.Send("wake", 0, 4); err != nil {
		t.Fatal(err)
	}
	if m := next(); m.Type != control.TypeRunning {
		t.Fatalf("got %+v after waking, want running", m)
	}
	wg.Wait()
}

// launcherUnderTest is a rank's control connection to a test playing the
// launcher, and the messages the rank sends on it.
func launcherUnderTest(t *testing.T) (*control.Client, <-chan control.Message) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	msgs := make(chan control.Message, 64)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		r := control.NewReader(conn)
		for {
			m, err := r.Next()
			if err != nil {
				close(msgs)
				return
			}
			msgs <- m
		}
	}()
	ctl, err := control.Dial(path, 0, "secret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	return ctl, msgs
}

// reporterUnderTest is a blockReporter talking to a test's end of a real
// control socket. It reports when the test calls check, not on a timer.
func reporterUnderTest(t *testing.T, peers int) (*blockReporter, []atomic.Uint64, *atomic.Int64, func() control.Message) {
	t.Helper()
	ctl, msgs := launcherUnderTest(t)
	counters := make([]atomic.Uint64, 2*peers)
	busy := new(atomic.Int64)
	b := makeBlockReporter(ctl, counters[:peers], counters[peers:], busy, 0) // reports when checked
	next := func() control.Message {
		t.Helper()
		for {
			select {
			case m := <-msgs:
				if m.Type != control.TypeHello {
					return m
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no control message within 30s")
				return control.Message{}
			}
		}
	}
	return b, counters, busy, next
}

// A confirm is answered yes only while the rank is blocked exactly as it
// reported: the same calls, none able to finish, the same counters, no copy
// in progress. Each way of being alive after the report gets a no.
func TestConfirmSaysYesOnlyWhenStillBlockedAsReported(t *testing.T) {
	cases := []struct {
		name  string
		alive func(counters []atomic.Uint64, busy *atomic.Int64, done *atomic.Bool, b *blockReporter)
	}{
		{"still blocked", nil},
		{"a frame sent since", func(c []atomic.Uint64, _ *atomic.Int64, _ *atomic.Bool, _ *blockReporter) { c[1].Add(1) }},
		{"a frame received since", func(c []atomic.Uint64, _ *atomic.Int64, _ *atomic.Bool, _ *blockReporter) { c[3].Add(1) }},
		{"a copy in progress", func(_ []atomic.Uint64, busy *atomic.Int64, _ *atomic.Bool, _ *blockReporter) { busy.Add(1) }},
		{"the call can finish", func(_ []atomic.Uint64, _ *atomic.Int64, done *atomic.Bool, _ *blockReporter) { done.Store(true) }},
		{"another call came and went", func(_ []atomic.Uint64, _ *atomic.Int64, _ *atomic.Bool, b *blockReporter) {
			b.leave(b.enter(func() control.Wait { return control.Wait{Call: "Probe"} }, func() bool { return true }))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, counters, busy, next := reporterUnderTest(t, 2)
			var done atomic.Bool
			b.enter(func() control.Wait { return control.Wait{Call: "Recv(source 1, tag 0)"} }, func() bool { return !done.Load() })
			b.check()
			if m := next(); m.Type != control.TypeBlocked || m.Op != "Recv(source 1, tag 0)" {
				t.Fatalf("got %+v, want the blocked report", m)
			}
			if tc.alive != nil {
				tc.alive(counters, busy, &done, b)
			}
			b.mu.Lock()
			ok := b.stillAsReported()
			b.mu.Unlock()
			if want := tc.alive == nil; ok != want {
				t.Fatalf("confirm answered %v, want %v", ok, want)
			}
			if done.Load() || busy.Load() != 0 || tc.alive == nil {
				return
			}
			// Blocked again as before: a new report, which a new round confirms.
			b.check()
			if m := next(); m.Type != control.TypeBlocked {
				t.Fatalf("got %+v, want a new blocked report", m)
			}
			b.mu.Lock()
			ok = b.stillAsReported()
			b.mu.Unlock()
			if !ok {
				t.Fatal("confirm answered no after the new report")
			}
		})
	}
}
