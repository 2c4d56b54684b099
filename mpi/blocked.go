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
// blocking call for a while, with its frame counters, and answers the
// launcher's confirm rounds, so that gorun can tell a deadlock from a slow
// job by facts rather than by timing:
//
//   - a frame counts as sent from before its first byte leaves, and as
//     received only once the receiver has handled it (its body copied, its
//     match made, any answer it calls for counted as sent), so a frame in
//     flight or being handled always shows as a difference between the
//     sender's and the receiver's counters;
//   - a confirm asks whether the rank is still asleep in the very calls it
//     reported (none left, none entered), none of them able to finish, with
//     the counters it reported and no copy in progress. When every live rank
//     says yes to one round, each was blocked at the moment the launcher
//     asked, with nothing in flight: that is a deadlock.
//
// It costs nothing on the fast path: only calls that went to sleep register.
type blockReporter struct {
	ctl            *control.Client
	sent, received []atomic.Uint64
	busy           *atomic.Int64 // copies in progress that no counter shows
	// unmatched lists up to max messages that arrived and wait for a
	// receive; nil when unknown. It must not call into the reporter.
	unmatched func(max int) []control.Unmatched
	after     time.Duration // a call counts as blocked after sleeping this long

	mu       sync.Mutex
	waits    map[*blockedCall]struct{}
	epoch    uint64 // changes whenever a call enters or leaves waits
	reported bool
	last     control.Message // the last report
	lastAt   uint64          // epoch of the last report
	stop     chan struct{}
	stopped  bool
}

// callInfo describes a blocking call for deadlock reports, lazily (it runs
// only when the call has slept long enough to be reported).
type callInfo func() control.Wait

// maxUnmatched is how many unmatched messages a report lists at most.
const maxUnmatched = 8

// blockedCall is one call asleep in the engine: what describes it for the
// report; pending reports, when asked, that it still cannot finish.
type blockedCall struct {
	since   time.Time
	what    callInfo
	pending func() bool
}

// newBlockReporter starts a reporter that checks every 200 ms.
func newBlockReporter(ctl *control.Client, sent, received []atomic.Uint64, busy *atomic.Int64,
	unmatched func(max int) []control.Unmatched) *blockReporter {
	b := makeBlockReporter(ctl, sent, received, busy, 200*time.Millisecond)
	b.unmatched = unmatched
	go b.loop()
	return b
}

// makeBlockReporter is a reporter that checks only when check is called.
func makeBlockReporter(ctl *control.Client, sent, received []atomic.Uint64, busy *atomic.Int64, after time.Duration) *blockReporter {
	return &blockReporter{ctl: ctl, sent: sent, received: received, busy: busy, after: after,
		waits: make(map[*blockedCall]struct{}), stop: make(chan struct{})}
}

// enter registers a call going to sleep; pending must report whether it
// still cannot finish (it is called with the reporter's lock held, so it
// must only read state).
func (b *blockReporter) enter(what callInfo, pending func() bool) *blockedCall {
	call := &blockedCall{since: time.Now(), what: what, pending: pending}
	b.mu.Lock()
	b.waits[call] = struct{}{}
	b.epoch++
	b.mu.Unlock()
	return call
}

func (b *blockReporter) leave(call *blockedCall) {
	b.mu.Lock()
	delete(b.waits, call)
	b.epoch++
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

// check reports the long-sleeping calls, again whenever the counters or
// the calls change (a confirm holds only for the latest report).
func (b *blockReporter) check() {
	var unmatched []control.Unmatched
	if b.unmatched != nil {
		unmatched = b.unmatched(maxUnmatched) // before b.mu: it takes the engine's lock
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var waits []control.Wait
	now := time.Now()
	for call := range b.waits {
		if now.Sub(call.since) >= b.after {
			waits = append(waits, call.what())
		}
	}
	if len(waits) == 0 {
		return
	}
	slices.SortFunc(waits, func(a, b control.Wait) int { return strings.Compare(a.Call, b.Call) })
	ops := make([]string, len(waits))
	for i, w := range waits {
		ops[i] = w.Call
	}
	m := control.Message{Type: control.TypeBlocked, Op: strings.Join(ops, " and "), Waits: waits,
		Unmatched: unmatched, Sent: snapshot(b.sent), Received: snapshot(b.received)}
	if b.reported && b.lastAt == b.epoch && m.Op == b.last.Op &&
		slices.Equal(m.Sent, b.last.Sent) && slices.Equal(m.Received, b.last.Received) {
		return // nothing new; a call that left and came back is reported again
	}
	b.reported, b.last, b.lastAt = true, m, b.epoch
	_ = b.ctl.Send(m)
}

// confirm answers the launcher's confirm round: OK when this rank is still
// blocked exactly as it last reported.
func (b *blockReporter) confirm(round uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.ctl.Send(control.Message{Type: control.TypeConfirmed, Round: round, OK: b.stillAsReported()})
}

// stillAsReported is the confirm's test. Called with b.mu held. The copies
// in progress are read before the counters: a copy that ends meanwhile
// has counted its answer as sent by the time it stops being busy.
func (b *blockReporter) stillAsReported() bool {
	if !b.reported || b.stopped || b.epoch != b.lastAt || len(b.waits) == 0 {
		return false
	}
	if b.busy != nil && b.busy.Load() != 0 {
		return false
	}
	for call := range b.waits {
		if !call.pending() {
			return false
		}
	}
	return slices.Equal(snapshot(b.sent), b.last.Sent) && slices.Equal(snapshot(b.received), b.last.Received)
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
