package main

import (
	"runtime"
	"testing"
)

// TestUpFlowCredit: a writer waits once a window of output is unacked,
// resumes on credit, and never waits after the flow is closed.
func TestUpFlowCredit(t *testing.T) {
	f := newUpFlow()
	if !f.acquire(outWindow) { // a window's worth goes at once
		t.Fatal("acquire on a fresh flow refused")
	}
	got := make(chan bool)
	go func() { got <- f.acquire(1) }()
	for !f.behind() {
		runtime.Gosched()
	}
	select {
	case <-got:
		t.Fatal("acquire went past the window")
	default:
	}
	f.credit([]byte("1")) // one byte written: one fits
	if !<-got {
		t.Fatal("acquire refused after credit")
	}
	f.credit([]byte("garbage"))
	go func() { got <- f.acquire(10) }()
	for !f.behind() {
		runtime.Gosched()
	}
	f.close()
	if <-got {
		t.Fatal("acquire on a closed flow succeeded")
	}
	if f.acquire(1) {
		t.Fatal("acquire after close succeeded")
	}
}

// TestUpFlowLargeMessage: a message larger than the window goes alone.
func TestUpFlowLargeMessage(t *testing.T) {
	f := newUpFlow()
	if !f.acquire(2 * outWindow) {
		t.Fatal("a message larger than the window never goes")
	}
	f.credit([]byte("8388608"))
	if !f.acquire(2 * outWindow) {
		t.Fatal("refused after full credit")
	}
}
