package gorunner

import (
	"bytes"
	"strings"
	"sync"
)

// watchedBuffer collects output and closes seen when it first contains
// mark. It does not embed bytes.Buffer, whose ReadFrom would bypass Write.
type watchedBuffer struct {
	mark   string
	mu     sync.Mutex
	buf    bytes.Buffer
	seen   chan struct{}
	closed bool
}

func newWatchedBuffer(mark string) *watchedBuffer {
	return &watchedBuffer{mark: mark, seen: make(chan struct{})}
}

func (b *watchedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if !b.closed && strings.Contains(b.buf.String(), b.mark) {
		b.closed = true
		close(b.seen)
	}
	return n, err
}

func (b *watchedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
