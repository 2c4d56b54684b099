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
// a frame waits at most twice ringLinger (and the timer's delay) longer
// than a poll would have taken, and no wake-up is ever lost: the timer runs
// whenever the last caller left by SpinLinger, and it either finds a
// caller polling (whose own SpinEnd or SpinLinger settles in its turn),
// sets itself again, or settles.
//
// The timer's state: lingerPending is true from the moment a timer is set
// until it runs; lingerStarts is the count of SpinStarts (the high half of
// spinners) when it was set. A SpinLinger that leaves nobody polling and
// finds no timer pending sets one; a timer that runs while nobody polls
// but finds that a caller started polling since it was set (and so left
// by SpinLinger after the timer was set, or settled by SpinEnd) sets
// itself again for another ringLinger. So a frame waits at most twice
// ringLinger, and SpinLinger costs one atomic add when a timer is pending,
// not a clock read.

// ringLinger is how long the rings stay without wake-ups after the last
// caller stopped polling by SpinLinger: about the gap between two calls of
// a program's loop. DefaultSpin of package mpi polls as long.
const ringLinger = 50 * time.Microsecond

// SpinLinger ends a SpinStart, like SpinEnd, for a caller that got what it
// polled for and will likely poll again soon (Lingerer): peers are asked
// for wake-ups only once ringLinger has passed with nobody polling.
func (u *Unix) SpinLinger() {
	s := u.spinners.Add(spinOneOut)
	if s&spinCount != 0 {
		return
	}
	// A load first: the swap, a locked instruction, only when no timer
	// is pending (once per ringLinger in a loop of calls).
	if !u.lingerPending.Load() && !u.lingerPending.Swap(true) {
		u.lingerStarts.Store(uint32(s >> 32))
		u.lingerTimer.Reset(ringLinger)
	}
}

// lingerDone runs when the linger timer fires: it settles every ring
// (asks for wake-ups and delivers what arrived) unless a caller polls, or
// one started polling since the timer was set (then it waits another
// ringLinger).
func (u *Unix) lingerDone() {
	u.lingerPending.Store(false)
	s := u.spinners.Load()
	if s&spinCount != 0 {
		return // that caller's SpinEnd or SpinLinger settles, or sets a timer
	}
	if starts := uint32(s >> 32); starts != u.lingerStarts.Load() {
		if !u.lingerPending.Swap(true) {
			u.lingerStarts.Store(starts)
			u.lingerTimer.Reset(ringLinger)
		}
		return
	}
	u.settleAll()
}
