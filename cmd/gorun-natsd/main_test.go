package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/internal/natsd"
)

func TestBadConfigurationIsAnswered(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(strings.NewReader(`{"users":[]}`), &stdout, &stderr); code != 1 {
		t.Errorf("status %d, want 1", code)
	}
	var ready natsd.Ready
	if err := json.Unmarshal(stdout.Bytes(), &ready); err != nil || !strings.Contains(ready.Error, "no user") {
		t.Errorf("answer %q (%v), want an error naming the missing user", stdout.String(), err)
	}
}

// TestServesUntilStdinEnds: the server accepts connections once the ready
// line is out, and run returns 0 when its standard input ends, the server
// closed.
func TestServesUntilStdinEnds(t *testing.T) {
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	done := make(chan int, 1)
	go func() { done <- run(stdinR, stdoutW, io.Discard) }()
	go stdinW.Write([]byte(`{"users":[{"name":"a","password":"b"}]}` + "\n"))
	var ready natsd.Ready
	if err := json.NewDecoder(stdoutR).Decode(&ready); err != nil || ready.Port == 0 {
		t.Fatalf("ready line: %+v %v", ready, err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ready.Port))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("the server does not accept connections: %v", err)
	}
	conn.Close()
	stdinW.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("status %d after standard input ended, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still serving 10 s after standard input ended")
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Error("the server still accepts connections after run returned")
	}
}
