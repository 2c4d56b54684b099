package main

import (
	"strconv"
	"sync"
)

// outWindow is how many bytes of a job's output an agent sends ahead of
// what the launcher has written out. An agent that reaches it stops
// reading its ranks' pipes, which back-pressures the ranks as a slow
// local stdout would, instead of piling output up in the launcher (or
// making it a slow consumer of the NATS server).
const outWindow = 4 << 20

// upFlow is an agent's credit for one job's output to the launcher: sent
// counts the output bytes published, acked those the launcher wrote.
type upFlow struct {
	mu      sync.Mutex
	cond    *sync.Cond
	sent    int64
	acked   int64
	closed  bool // the launcher is done with us, or gone: wait no more
	waiting int  // writers waiting for credit
}

func newUpFlow() *upFlow {
	f := &upFlow{}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// acquire waits until n more bytes fit in the window (a message larger
// than the window goes alone), and counts them as sent. It reports false
// once the flow is closed: the output has nowhere to go.
func (f *upFlow) acquire(n int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.closed && f.sent > f.acked && f.sent+int64(n)-f.acked > outWindow {
		f.waiting++
		f.cond.Wait()
		f.waiting--
	}
	if f.closed {
		return false
	}
	f.sent += int64(n)
	return true
}

// credit applies a launcher's credit message: the total of this host's
// output bytes it has written, in decimal.
func (f *upFlow) credit(msg []byte) {
	n, err := strconv.ParseInt(string(msg), 10, 64)
	if err != nil {
		return
	}
	f.mu.Lock()
	if n > f.acked {
		f.acked = n
		f.cond.Broadcast()
	}
	f.mu.Unlock()
}

// close releases every waiting writer, for good.
func (f *upFlow) close() {
	f.mu.Lock()
	f.closed = true
	f.cond.Broadcast()
	f.mu.Unlock()
}

// behind reports whether output waits for the launcher to catch up.
func (f *upFlow) behind() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiting > 0
}
