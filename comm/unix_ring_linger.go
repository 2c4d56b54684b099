package comm

import "time"

// Lingering. A caller that polled until it got what it waited for usually
// polls again a moment later (the next call of a loop). If the rings asked
// for wake-ups in between (SpinEnd), a peer writing in that gap would pay a
// wake-up frame, and this rank's background reader a thread wake-up that
// takes a core from the ranks that poll: in a ping-pong of 8 bytes that was
// a third of the frames. SpinLinger ends the polling without asking for
// wake-ups at once: until ringLinger has passed with no caller polling,
// frames wait in the rings for the next poll; then a timer asks for
// wake-ups and delivers what arrived (the same settling as SpinEnd's). So
// a frame waits at most ringLinger (and the timer's delay) longer than a
// poll would have taken, and no wake-up is ever lost: the timer runs
// whenever the last caller left by SpinLinger, and it either finds a
// caller polling (whose own SpinEnd or SpinLinger settles in its turn) or
// settles itself.
//
// The timer's state: lingerPending is true from the moment a timer is set
// until it runs; lingerSince is when the last caller left by SpinLinger
// (monotonic nanoseconds since the transport was made). A SpinLinger that
// finds no timer pending sets one; a timer that runs while callers left
// less than ringLinger ago sets itself again for the rest.

// ringLinger is how long the rings stay without wake-ups after the last
// caller stopped polling by SpinLinger: about the gap between two calls of
// a program's loop. DefaultSpin of package mpi polls as long.
const ringLinger = 50 * time.Microsecond

// SpinLinger ends a SpinStart, like SpinEnd, for a caller that got what it
// polled for and will likely poll again soon (Lingerer): peers are asked
// for wake-ups only once ringLinger has passed with nobody polling.
func (u *Unix) SpinLinger() {
	u.lingerSince.Store(int64(time.Since(u.born)))
	if u.spinners.Add(-1) != 0 {
		return
	}
	if !u.lingerPending.Swap(true) {
		u.lingerTimer.Reset(ringLinger)
	}
}

// lingerDone runs when the linger timer fires: it settles every ring
// (asks for wake-ups and delivers what arrived) unless a caller polls, or
// one left less than ringLinger ago (then it waits for the rest).
func (u *Unix) lingerDone() {
	u.lingerPending.Store(false)
	if u.spinners.Load() != 0 {
		return // that caller's SpinEnd or SpinLinger settles, or sets a timer
	}
	if rest := ringLinger - (time.Since(u.born) - time.Duration(u.lingerSince.Load())); rest > 0 {
		if !u.lingerPending.Swap(true) {
			u.lingerTimer.Reset(rest)
		}
		return
	}
	u.settleAll()
}
