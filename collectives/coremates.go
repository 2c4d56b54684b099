package collectives

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// Ranks that share a core (gorun binds rank r to one CPU when ranks
// outnumber cores) yield to each other between polls, so that a rank with
// work gets the core. But when every rank on this core waits for the same
// event (a Barrier's last arrivals, a Bcast root's next value), a yield
// hands the core to a rank that only yields it back: a barrier at np=4 on
// 2 cores made 1.85 yields per call and rank where one per call hands the
// core over, each yield costing about a microsecond and exposing the call
// to the yields that keep the core away tens of microseconds. So a rank
// publishes in its presence line (shmcoll.PresenceAt) the CPU it is bound
// to and the wait it is in, and a waiting rank whose core-mates all wait
// for something that has not happened polls instead of yielding, up to
// arenaIdlePoll at a time: the core has nothing else of this job to run. A
// core-mate at work, or in a wait whose counters have reached its target,
// has work: the rank yields to it. A rank not bound to one CPU publishes
// none and yields as before.

// Measured at np=4 on 2 cores (bench/ops -stats, 20000 back-to-back
// calls, alternated runs against main; the machine shared, load 6-9, so
// ratios only): yields (involuntary context switches) per 1000 calls and
// rank 1440-1690 -> 540-570 for Barrier, Barrier means 4.65-5.96 -> 3.31-3.89
// us, Allreduce 8 B 4.40-6.56 -> 3.83-4.26, Bcast 8 B 1.21-1.50 ->
// 1.14-1.26; the p50 rose (Barrier 2.65 -> 3.05 us: the rank that sees the
// barrier end first is now the one that polled, and hands over to its
// core-mate after it), the tail fell (p99 50-68 -> 42-46 us). With two yes
// hogs, means held (Barrier 1.85-1.93 -> 1.48-2.12 ms per call).
//
// Where the yields' tail came from: 1.5-2% of a Barrier loop's yields
// took 32-64 us, against 0.5% for two C processes yielding to each other
// on one core of this machine at the same load (the rest is the machine:
// other processes, the host), and 0.5-1% with GOMAXPROCS=2 (below). A
// yield that lasts more than two ticks
// of the Go runtime's monitor (20 us) lets the monitor take the rank's only
// P and hand it to another thread, which wakes on the same core to find
// nothing to do; the rank then comes back on a third thread, and the
// monitor stays at its fastest tick. Tried and dropped: GOMAXPROCS=2 for
// ranks that share cores (gorun gives 1), so that an idle P tells the
// monitor no work waits: four alternated runs at load 6-9, Barrier means
// of calls under 1 ms 4.67-6.11 -> 3.68-4.25 us, but calls over 1 ms
// 0-13 -> 11-24 per 20000 and whole means 4.8-8.6 -> 6.4-9.2 us; with the
// polling above, whole means 4.0-5.9 (GOMAXPROCS=1) against 7.2-10.4 us
// (2). The hand-off is what brings a rank back ahead of other processes.
//
// The monitor's cost, traced (perf sched events, 2026-11-30): at its
// fastest tick (usleep(20), which this VM's timer slack makes about 90
// us) it wakes on the rank's core, bound like the rank, and holds it 8-12
// us each time, about a tenth of the core; a rank's other threads (the
// monitor, the Ms it starts) switched 7-29 times per 1000 back-to-back
// Bcasts at np=4 in loops where it stayed fast, 0.1-3.5 in loops where
// it had slowed down. It goes back to that tick for about 5 ms whenever it
// takes a P back from a system call or wakes from its deep sleep, as
// during mpi.Init: the first loop of a program (bench/ops's Barrier at
// np=2) pays it, later loops of the same calls do not (np=2 Barrier,
// 20000-call loops after 1000 warm-up calls, no clock read per call:
// 0.44-0.50 us in the first, 0.37-0.43 after; Open MPI's twin 0.36-0.51
// with its clock reads). Tried and dropped: every thread of a
// rank SCHED_BATCH (no wake-up preemption), np=2 Barrier calls of 16-64
// us 10-47 -> 7-12 per 20000 but np=4 Barrier means 3.0-3.3 -> 3.9-5.1
// us and Bcast 8 B 0.75-0.87 -> 0.82-1.02; the monitor's thread alone
// SCHED_BATCH, np=2 Barrier calls of 16-64 us 60-90 -> 15-32 but new
// calls over 128 us (10-29) and over 1 ms, whole means worse; GOMAXPROCS=2
// at np=2 (one rank per core: an idle P keeps the monitor from taking a P
// back), no clear change in sixteen 20000-call Barrier loops each.

// arenaIdlePoll is how long a rank whose core-mates all wait for what it
// waits for polls before it yields once anyway (a process of another job
// may want the core). 20 us did no better (three alternated runs at load
// 6: Barrier means 3.44-38.2 against 3.31-3.89 us, Allreduce 8 B 3.55-4.15
// against 3.83-4.26).
const arenaIdlePoll = 5 * time.Microsecond

// idlePollYields: a poll of arenaIdlePoll counts as this many yields
// towards arenaYieldPolls (a yield by turns takes 1-2 us), so that a wait
// for a rank of another core that does not come sleeps after about as
// long as before, leaving the core to other processes.
const idlePollYields = 4

// Presence line fields.
const (
	presenceCPU  = 0 // uint32: the CPU the rank is bound to, plus one; 0: not bound to one
	presenceWait = 8 // uint64: waitState of the wait the rank is in; 0: none
)

// presence returns rank q's presence fields: its CPU and its wait.
func (a *arena) presence(q int) (cpu *atomic.Uint32, wait *atomic.Uint64) {
	off := shmcoll.PresenceAt(a.size, q)
	return (*atomic.Uint32)(unsafe.Pointer(&a.mem[off+presenceCPU])), (*atomic.Uint64)(unsafe.Pointer(&a.mem[off+presenceWait]))
}

// setCPU records in this rank's presence line the CPU it is bound to, if
// bound is true (a.publishCPU with boundCPU's answer; tests place ranks).
func (a *arena) setCPU(c int, bound bool) {
	a.cpu = -1
	a.mates, a.matesKnown = nil, false
	if bound {
		a.cpu = c
		cpu, _ := a.presence(a.rank)
		cpu.Store(uint32(c) + 1)
	}
}

// maxWaitRanks is the largest group whose ranks a waitState can name.
const maxWaitRanks = 1<<16 - 2

// waitState encodes a wait for the counters of kind of rank only (every
// other rank when only < 0) to reach target: never 0.
func waitState(kind, only int, target uint32) uint64 {
	return uint64(target)<<32 | uint64(kind+1)<<16 | uint64(uint16(only+1))
}

// coreMates reports the other ranks bound to this rank's CPU, once every
// rank has published its CPU (known false until then, or when this rank is
// not bound to one CPU).
func (a *arena) coreMates() (mates []int, known bool) {
	if a.matesKnown {
		return a.mates, true
	}
	if a.cpu < 0 || a.size > maxWaitRanks {
		return nil, false
	}
	var found []int
	for q := range a.size {
		if q == a.rank {
			continue
		}
		cpu, _ := a.presence(q)
		c := cpu.Load()
		if c == 0 {
			return nil, false // not yet published, or not bound to one CPU
		}
		if int(c)-1 == a.cpu {
			found = append(found, q)
		}
	}
	a.mates, a.matesKnown = found, true
	return found, true
}

// coreIdle reports whether no other rank bound to this rank's CPU has
// work: each is in a wait (its presence line says which) that its
// counters have not ended, as this rank's own (state) has not.
func (a *arena) coreIdle(state uint64) bool {
	mates, known := a.coreMates()
	if !known {
		return false
	}
	for _, q := range mates {
		_, wait := a.presence(q)
		w := wait.Load()
		if w == 0 || (w != state && a.waitOver(q, w)) {
			return false
		}
	}
	return true
}

// waitOver reports whether rank q's wait, published as state, is over: the
// counters it waits for have reached its target.
func (a *arena) waitOver(q int, state uint64) bool {
	target, kind, only := uint32(state>>32), int(state>>16&0xffff)-1, int(uint16(state))-1
	if kind < 0 || kind >= arenaKinds || only >= a.size {
		return true // not a wait this arena knows: count the rank as at work
	}
	for r := range a.size {
		if r == q || (only >= 0 && r != only) {
			continue
		}
		if word, _ := a.counter(kind, r); !reached(word.Load(), target) {
			return false
		}
	}
	return true
}

// publishWait records in this rank's presence line the wait it is in
// (state), or that it is in none (0).
func (a *arena) publishWait(state uint64) {
	_, wait := a.presence(a.rank)
	wait.Store(state)
}
