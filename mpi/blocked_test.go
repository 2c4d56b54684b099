package mpi

import (
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/control"
)

// A rank asleep in Recv reports itself blocked to the launcher with the call
// and its frame counters, and reports running again once it wakes.
func TestBlockedCallIsReportedToLauncher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	msgs := make(chan control.Message, 16)
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
	defer ctl.Close()

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
