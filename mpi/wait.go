package mpi

import (
	"context"
	"runtime"
	"time"
)

// await waits until c is finished or goctx ends. It first polls the
// transport for e.spin (progress on this goroutine, no sleep/wake-up cost),
// then sleeps. A wait on a large body polls longer, for about the time the
// body takes to move (completion.transfer), yielding to the rank's other
// goroutines meanwhile; not when ranks outnumber cores, where a poller
// would take the core from the rank doing the copy. While it sleeps, what (when not nil) is reported to the
// launcher as the call this rank is blocked in, for deadlock detection.
func (e *engine) await(goctx context.Context, c *completion, what callInfo) error {
	return e.awaitUntil(goctx, c, callSite{info: what}, nil)
}

// awaitAt is await for a call described by site, whose description is made
// only if the call goes to sleep (a poll that sees the operation finish
// allocates nothing).
func (e *engine) awaitAt(goctx context.Context, c *completion, site callSite) error {
	return e.awaitUntil(goctx, c, site, nil)
}

// awaitUntil is await for a completion finished by a watcher of other
// operations (WaitAny): pending, when not nil, tells gorun's deadlock
// detection whether those operations still cannot finish, since the
// watcher may not have run yet.
func (e *engine) awaitUntil(goctx context.Context, c *completion, site callSite, pending func() bool) error {
	if e.polledDone(c) {
		return c.err
	}
	return e.sleepUntil(goctx, c, site, pending)
}

// polledDone reports whether c is finished, polling the transport first
// (see spinPoll) when it is not. A caller whose wait's description costs
// something to build asks it first: a callSite is too large for
// registers, and one built and then passed is copied through memory right
// after its fields were stored, a copy the processor cannot forward from
// its store buffer (issue 17's profile of a small message's round trip).
func (e *engine) polledDone(c *completion) bool {
	return c.isDone() || e.spin > 0 && e.poller != nil && e.spinPoll(c)
}

// sleepUntil is awaitUntil once polling gave up: it sleeps until c is
// finished or goctx ends, the call reported as site meanwhile.
func (e *engine) sleepUntil(goctx context.Context, c *completion, site callSite, pending func() bool) error {
	if what := site.callInfo(); what != nil && e.blocked != nil {
		token := e.blocked.enter(what, func() bool {
			return !c.isDone() && (goctx == nil || goctx.Err() == nil) && (pending == nil || pending())
		})
		defer e.blocked.leave(token)
	}
	if goctx == nil {
		<-c.done()
		return c.err
	}
	select {
	case <-c.done():
		return c.err
	case <-goctx.Done():
		if c.isDone() {
			return c.err
		}
		return goctx.Err()
	}
}

// spinPoll polls the transport until c is done (true) or the spin time is
// over (false), telling a transport that is a comm.Spinner when it starts
// and stops polling: by SpinLinger when c is done (the caller will likely
// wait again soon, and peers need not wake this rank in between), by
// SpinEnd when the caller is about to sleep.
func (e *engine) spinPoll(c *completion) (done bool) {
	if e.spinner != nil {
		e.spinner.SpinStart()
		defer func() {
			if done && e.lingerer != nil {
				e.lingerer.SpinLinger()
			} else {
				e.spinner.SpinEnd()
			}
		}()
	}
	// The clock is read from the 8th poll on: most waits of a loop of
	// small messages end before, and a read costs tens of nanoseconds.
	var start time.Time
	for i := 1; ; i++ {
		if !e.poller.Poll() && e.yield && !yieldBriefly() {
			return c.isDone() // the core went to a process with work: sleep
		}
		if c.isDone() {
			return true
		}
		if i%8 != 0 {
			continue
		}
		if i == 8 {
			start = time.Now()
			continue
		}
		elapsed := time.Since(start)
		if elapsed > e.spin+time.Duration(c.transfer.Load()) {
			return false
		}
		if elapsed > e.spin {
			// Polling through a transfer: let the rank's other
			// goroutines (one may be doing the copy) have the P.
			runtime.Gosched()
		}
	}
}

// awaitSettled waits until the unsettled request r completes and settles
// it (Wait without the lock, which the caller holds or, for a blocking
// call's own request, needs not: see waitOwn).
func (r *Request) awaitSettled() (Status, error) {
	var err error
	if r.c.e.polledDone(r.comp) {
		err = r.comp.err
	} else {
		err = r.c.e.sleepUntil(r.goctx, r.comp, r.c.site(r.op, r.peerWord(), r.peer, r.tag, r.recv != nil), nil)
	}
	if err != nil && isContextErr(err) && !r.comp.isDone() {
		if r.recv == nil || r.c.e.cancelRecv(r.recv) {
			// The operation was withdrawn (receive) or goes on unobserved (send).
			r.settled, r.err = true, r.c.wrapErr(r.op, r.peer, r.tag, err)
			return r.status, r.err
		}
		<-r.comp.done() // matched already: its message is on the way
	}
	r.settle()
	return r.status, r.err
}

// waitOwn is Wait for the request of a blocking call (Recv, Sendrecv: from
// engine.request), which no other goroutine can see: no lock, and no span
// of its own (those calls record themselves).
func (r *Request) waitOwn() (Status, error) {
	if r.settled {
		return r.status, r.err
	}
	return r.awaitSettled()
}
