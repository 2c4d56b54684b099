package main

import (
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestAwaitOutputWaitsThroughAPause: the launcher waits for every rank's
// output however long the agents' output pauses (a loaded machine, a
// slow reader of gorun's stdout), and stops waiting early only when gorun
// is told to stop (a signal).
func TestAwaitOutputWaitsThroughAPause(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	s := &supervisor{stdout: newStream(io.Discard, nil), stderr: newStream(io.Discard, nil), sigs: sigs}
	r := &remoteRanks{s: s}
	done := make(chan struct{})
	time.AfterFunc(flushWait+time.Second, func() { close(done) })
	r.awaitOutput(done)
	select {
	case <-done:
	default:
		t.Fatal("awaitOutput returned before every rank's output was written, after a pause of no output")
	}

	never := make(chan struct{})
	returned := make(chan struct{})
	go func() {
		r.awaitOutput(never)
		close(returned)
	}()
	sigs <- syscall.SIGINT
	select {
	case <-returned:
	case <-time.After(30 * time.Second):
		t.Fatal("awaitOutput still waits 30 s after a signal")
	}
}
