package main

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestPipeDrainClosesOnFactsOnly follows a pipe whose write end a leftover
// process keeps open: while it holds bytes nobody read, it may not be
// closed; once its forwarder read what it held when closing began, it may,
// even if the leftover wrote more meanwhile; an empty one may at once.
func TestPipeDrainClosesOnFactsOnly(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pipeUnread counts only on Linux")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	d := newPipeDrain()
	if !d.mayClose(r) {
		t.Fatal("a pipe may not be closed before closing began")
	}
	const held = 40 << 10
	if _, err := w.Write(bytes.Repeat([]byte("x"), held)); err != nil {
		t.Fatal(err)
	}
	if got := pipeUnread(r); got != held {
		t.Fatalf("pipeUnread: %d, want %d", got, held)
	}
	d.startClosing(r)
	if d.mayClose(r) {
		t.Fatal("a pipe holding unread bytes may be closed")
	}
	reader := countingReader{r, &d.read}
	buf := make([]byte, held/2)
	if _, err := reader.Read(buf); err != nil {
		t.Fatal(err)
	}
	if d.mayClose(r) {
		t.Fatalf("may close after %d of the %d bytes held were read", d.read.Load(), held)
	}
	// The leftover writes more: what it writes after closing began does
	// not hold the pipe open.
	if _, err := w.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	for d.read.Load() < held {
		if _, err := reader.Read(buf[:held-d.read.Load()]); err != nil {
			t.Fatal(err)
		}
	}
	if !d.mayClose(r) {
		t.Fatal("may not close once what the pipe held was read")
	}
	empty := newPipeDrain()
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	defer w2.Close()
	empty.startClosing(r2)
	if !empty.mayClose(r2) {
		t.Fatal("an empty pipe may not be closed")
	}
}

// TestCloseWhenDrainedWaitsForASlowForwarder: a rank's forwarder that gets
// no core for a while (here it starts late) still forwards every byte the
// rank left in its pipe, which a leftover process holds open, before the
// pipe is closed; and the wait ends then, without the leftover exiting.
func TestCloseWhenDrainedWaitsForASlowForwarder(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pipeUnread counts only on Linux")
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outW.Close() // the leftover's end, open throughout
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errW.Close()
	want := strings.Repeat("a line of the rank's output\n", 2000) // 56 KB, under a pipe's 64 KiB
	if _, err := outW.Write([]byte(want)); err != nil {
		t.Fatal(err)
	}
	p := &proc{outR: outR, errR: errR, drained: make(chan struct{}), drain: newPipeDrain()}
	var got bytes.Buffer
	s := newStream(&got, nil)
	done := make(chan struct{})
	go func() {
		time.Sleep(300 * time.Millisecond) // starved
		forward(countingReader{outR, &p.drain.read}, s, nil)
		close(done)
	}()
	if p.closeWhenDrained(nil) {
		t.Error("closeWhenDrained stopped without a signal")
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the forwarder did not end once the pipe was closed")
	}
	if got.String() != want {
		t.Errorf("forwarded %d bytes of the %d the rank wrote", got.Len(), len(want))
	}
}
