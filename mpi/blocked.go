package mpi

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorun-mpi/gorun/internal/control"
)

// blockReporter tells the launcher when this rank has been asleep in a
// blocking call for a while, with its frame counters, so that gorun can
// tell a deadlock (every rank blocked, nothing in flight) from a slow job.
// It costs nothing on the fast path: only calls that went to sleep register.
type blockReporter struct {
	ctl            *control.Client
	sent, received []atomic.Uint64
	after          time.Duration // a call counts as blocked after sleeping this long

	mu       sync.Mutex
	waits    map[*blockedCall]struct{}
	reported bool
	last     control.Message
	stop     chan struct{}
	stopped  bool
}

type blockedCall struct {
	since time.Time
	what  func() string
}

func newBlockReporter(ctl *control.Client, sent, received []atomic.Uint64) *blockReporter {
	b := &blockReporter{ctl: ctl, sent: sent, received: received, after: 200 * time.Millisecond,
		waits: make(map[*blockedCall]struct{}), stop: make(chan struct{})}
	go b.loop()
	return b
}

func (b *blockReporter) enter(what func() string) *blockedCall {
	call := &blockedCall{since: time.Now(), what: what}
	b.mu.Lock()
	b.waits[call] = struct{}{}
	b.mu.Unlock()
	return call
}

func (b *blockReporter) leave(call *blockedCall) {
	b.mu.Lock()
	delete(b.waits, call)
	if len(b.waits) == 0 && b.reported {
		b.reported = false
		b.last = control.Message{}
		_ = b.ctl.Send(control.Message{Type: control.TypeRunning})
	}
	b.mu.Unlock()
}

func (b *blockReporter) loop() {
	tick := time.NewTicker(b.after)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
			b.check()
		}
	}
}

// check reports the oldest long-sleeping call, again whenever the counters
// or the call change.
func (b *blockReporter) check() {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ops []string
	now := time.Now()
	for call := range b.waits {
		if now.Sub(call.since) >= b.after {
			ops = append(ops, call.what())
		}
	}
	if len(ops) == 0 {
		return
	}
	slices.Sort(ops)
	m := control.Message{Type: control.TypeBlocked, Op: strings.Join(ops, " and "),
		Sent: snapshot(b.sent), Received: snapshot(b.received)}
	if b.reported && m.Op == b.last.Op && slices.Equal(m.Sent, b.last.Sent) && slices.Equal(m.Received, b.last.Received) {
		return
	}
	b.reported, b.last = true, m
	_ = b.ctl.Send(m)
}

func (b *blockReporter) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.stopped {
		b.stopped = true
		close(b.stop)
	}
}

func snapshot(counters []atomic.Uint64) []uint64 {
	out := make([]uint64, len(counters))
	for i := range counters {
		out[i] = counters[i].Load()
	}
	return out
}
