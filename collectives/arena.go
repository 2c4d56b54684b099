package collectives

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gorun-mpi/gorun/internal/shm"
	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// An arena is memory that every rank of a group on one host maps, through
// which a collective moves data without messages: each rank copies its
// operand in, reduces its share of the vector straight from the others'
// copies, and copies the result out (see shmAllreduce). gorun creates the
// memory for every job on its local transport; the mpi package lays a
// shmcoll.Region over it and lends it to the world communicator's
// collectives (memoryConn), and the arena, the collectives' state for that
// region, is kept in the region (shmcoll.Region.Attach).
//
// Layout (shmcoll): for each rank, two counters (operands copied in, share
// reduced), each on a cache line of its own with a count of sleepers; for
// each rank, a presence line (the CPU it is bound to, the wait it is in:
// coremates.go); shmcoll.HeaderSets sets of call headers, one per rank in each (its
// vector's length, its choice of algorithm, its failure if any, a small
// value, and a stamp stored last: the step it was written for), which the
// ranks compare before they touch each other's data; then one slot per
// rank for a segment of its operand; then the result area. A rank waiting
// for another's header polls the stamp (waitArrivals), then its counter.
//
// Cache lines per small call, measured as p50 of back-to-back calls at np=2
// (bench/ops -stats, three alternated runs each at machine load 9-11, so
// means are the machine's; ratios only): remembering the counter values
// seen (seen), values of up to 64 bytes in the header's first 128 bytes,
// one choice of algorithm per arena and no signature decoding on a Bcast
// non-root took Bcast 8 B from 0.31-0.35 to 0.28 us, Allreduce 8 B from
// 0.54-0.56 to 0.47-0.49; non-roots posting every maxDeferred small Bcasts
// 0.266 -> 0.257 (bcast_into 0.245 -> 0.235); the header stamp Barrier
// 0.385-0.397 -> 0.334-0.345 and Bcast 0.254 -> 0.242, Allreduce 8 B
// unchanged until its value moved into the header's first line
// (headerTiny): 0.49-0.51 -> 0.39-0.40. At np=4 (two ranks per core)
// the p50s moved by as much (Bcast 8 B 0.31 -> 0.26, Barrier 2.84 ->
// 2.64) but the means stay the tails': ranks taking turns on a core.
//
// Tried and dropped: a root of small Bcasts that, blocked by the header
// sets while ranks share cores, waits until the others are done with the
// call half the sets back (so that it then has 16 calls to make, not one):
// np=4, five alternated runs at load 5-9, Bcast 8 B means 1.35 -> 1.46 us,
// BcastInto 1.03 -> 1.29. A polling root of small Bcasts at np=2 that
// waits a little between polls of the others' counters (to leave their
// lines alone): p50 0.266-0.276 against 0.263-0.282 us, no change.
//
// What a small call costs (Bcast of one float64, np=2, the root far ahead:
// at least 32 calls in 75-90% of the others' calls, counted from the
// root's arrived counter). Without cache lines moving between cores
// (BenchmarkShmBcastSmall: one goroutine plays both ranks) a call costs
// this package about 100 ns on the root and on the other rank, spread
// thin: the arena's mutex 9%, type assertions and Signature copies, the
// root's three atomic stores. On two cores, back to back without a clock
// read per call, a call takes 0.25-0.27 us: about half of it is lines
// moving. Package mpi's share is small: Bcast calling this package
// directly (no collConn, BeginCall, trace or hierarchy) moved the p50 of
// bench/ops from 0.241-0.245 to 0.216-0.224 us, and the arena's and the
// engine's mutexes left out 0.242 to 0.224 (four runs each, load 4).
// Open MPI's twin takes 0.057 us (p50) on the same machine. Tried and
// dropped (2026-11-30, load 3-17, so only what stood out of the noise
// counts): the root's stamp and counter stored with plain stores (no
// fence; a measurement only, it breaks the sleepers' wake-up), np=2
// Bcast 8 B p50 0.239-0.240 -> 0.233-0.237 us (two runs); touchAhead at
// np=2 without claimAhead, the best of four 100000-call loops per job (no
// clock read per call), four alternated jobs: 0.246-0.300 us against
// 0.259-0.499, and claimAhead without touchAhead, per-call p50 of the
// other rank 240-246 ns against 240-247 (each stall is the bottleneck once
// the other is gone: together they pay, see claimAhead); a
// pause of a few hundred nanoseconds between the polls of a wait whose
// core-mates all wait (to leave the polled lines alone), np=4 Bcast 8 B,
// the best of six 20000-call loops per job, ten alternated jobs at load
// 4.5: 0.51-0.80 us (mean 0.61) against 0.55-0.68 (0.62), no clear
// change; non-roots deferring their posts when ranks share cores, again
// (with the core-mate polling and 64 header sets), means of calls under
// 1 ms 0.90-1.31 -> 1.18-1.92 us (three alternated runs at load 4.3);
// a PAUSE instruction (assembly) in each poll of a polling wait, in case
// the two virtual CPUs share a core's pipeline, np=2 p50s of 50000-call
// loops Barrier 0.336-0.344 -> 0.333-0.343 us, Bcast 8 B 0.235-0.239 ->
// 0.235-0.240 (four alternated runs): they do not.
//
// Calls take the header sets in turn (shmcoll.HeaderSets of them), so a
// call that writes nothing but headers (a Barrier, a small Bcast or
// AllreduceSlice) need only wait until every rank is done with the call
// HeaderSets back: it does not wait for the slowest rank to leave the
// previous call, and a root of small Bcasts in a row finishes up to
// HeaderSets calls ahead of the others instead of waiting for them every
// call. A call that writes slots or the result area waits for every rank
// to be done with the previous call.
type arena struct {
	mem         []byte
	rank, size  int
	slotBytes   int // per rank: the largest segment of an operand
	resultBytes int
	pieceBytes  int // a large Bcast is posted in pieces of this size
	inlineBytes int // values up to this size travel in the call header
	slots       int // offset of rank 0's slot
	result      int // offset of the result area
	hooks       shmcoll.Hooks

	mu    sync.Mutex // one call at a time (collectives on one communicator are ordered anyway)
	steps uint32     // segments done so far: the same count on every rank
	calls uint32     // calls done so far (the same on every rank): picks the header set
	// ends[c%shmcoll.HeaderSets] is steps at the end of call c: of the
	// call HeaderSets back, whose header set the next call reuses.
	ends [shmcoll.HeaderSets]uint32
	// op is the collective in progress, for deadlock reports, and opRoot
	// its root (-1: none); opName puts them together when a report needs it.
	op     string
	opRoot int
	// sig is the call in progress, lastSig this rank's call through the
	// arena before it (both published in the call's header), check the
	// call's CallConn.CheckCall (or nil), run while a wait sleeps.
	sig, lastSig Signature
	check        CallConn
	// sigBytes is sig encoded, what this rank's header carries and what
	// other headers are compared with: a rank that only reads the root's
	// header (a Bcast) has no header of its own for this call.
	sigBytes [SignatureLen]byte
	// lastSigBytes is lastSig encoded (zeros before the first call).
	lastSigBytes [SignatureLen]byte
	// matchedAll: the call in progress found every rank's header for it
	// to be the same call as this rank's (set by the calls that read
	// every header); lastMatchedAll: so did the call before, which then
	// needs no second look (previousMismatch), on any rank.
	matchedAll, lastMatchedAll bool
	// broken: a call failed midway, the counters are out of step (set
	// under mu, read without it by arenaOf, once per call).
	broken atomic.Bool
	// operands holds the operand views of an AllreduceSlice
	// (operandScratch): kept, since calls are one at a time, so that a
	// small call allocates nothing.
	operands any
	long     bool // the call in progress moves longCallBytes or more per rank
	// seen[kind][q] is the value this rank last loaded from rank q's
	// counter of kind. Counters only grow, so a wait whose target the
	// value seen has reached is over without touching the counter's line,
	// which its owner writes every call: a root of small Bcasts checks
	// the others' progress only when the call HeaderSets back is newer
	// than what it last saw of them, and a rank behind a root that ran
	// ahead reads the root's counter once for the calls it is behind.
	seen [arenaKinds][]uint32
	// choices holds the policies' choices for calls through the arena,
	// made with the arena (a.choose); read-only after.
	choices []arenaChoice
	// deferred counts the small Bcasts, in a row, in which this rank (not
	// the root) has not yet posted that it is done (see deferDone).
	deferred int
	// cpu is the CPU this rank is bound to (-1: not bound to one); mates
	// the other ranks bound to it, once matesKnown (coremates.go).
	cpu        int
	mates      []int
	matesKnown bool
	// aheadTo is the call at which a rank other than a Bcast's root next
	// reads how far the root has run ahead (touchAhead); touched keeps
	// what the touch read, so that the loads stay.
	aheadTo uint32
	touched byte
	// claimedTo is the call up to which the root of small Bcasts has
	// asked for its header lines to be written (claimAhead).
	claimedTo uint32
}

// maxDeferred is the most small Bcasts in a row whose end a rank other
// than the root leaves unposted: far below shmcoll.HeaderSets, so that a
// root reusing a header set never waits for a post that is deferred.
const maxDeferred = 8

// deferDone ends a small Bcast on a rank other than the root without
// posting its reduced counter, unless maxDeferred calls are waiting: the
// root reads that counter only to reuse the header set of the call
// HeaderSets back, and each post by this rank while the root polls the
// line costs this rank a cache miss (the line goes to the root and back).
// Every later call but such a Bcast posts at once on entry (inArena), and
// such a Bcast before it waits for the root (deferred posts never hold
// anyone back while this rank waits: no new deadlock). Ranks that share
// cores post every call: a root that yields between polls costs a post
// little, and the further it runs ahead the less often ranks take turns
// on a core (np=4 on 2 cores, Bcast 8 B, four alternated runs at load 9:
// means 1.6-2.1 us posting every call against 2.9-4.2 deferring).
//
// Measured at np=2 (p50 of back-to-back calls, three alternated runs at
// load 10): Bcast 8 B 0.266 -> 0.257 us, BcastInto 0.245 -> 0.235.
func (a *arena) deferDone(step uint32) {
	a.steps = step
	a.deferred++
	if a.deferred >= maxDeferred {
		a.post(reducedKind, step)
	}
}

// postDeferred posts the reduced counter of the calls deferDone left
// unposted.
func (a *arena) postDeferred() {
	if a.deferred > 0 {
		a.post(reducedKind, a.steps)
	}
}

// arenaChoice is the algorithm the policy of coll gave calls through the
// arena, or the error it gave.
type arenaChoice struct {
	coll string
	alg  algorithm
	err  error
}

// choose is chooseShared for a call of collective coll through a (its
// group's size, shared memory), as decided when the arena was made:
// reading the environment and the policy each call took about 4% of a
// small Bcast through the arena. For ranks that share an arena the
// decision table does not look at the size of the call
// (TestSharedChoiceIgnoresSize), so none is asked for; GORUN_COLL_* is
// read once per arena, when a process first uses it (gorun sets it for
// the whole job).
func (a *arena) choose(coll string) (algorithm, error) {
	for _, c := range a.choices {
		if c.coll == coll {
			return c.alg, c.err
		}
	}
	return chooseShared(coll, a.size, 0, true)
}

// sharedChoices are the policies' choices for calls through an arena of
// size ranks, in the order of the collectives' names.
func sharedChoices(size int) []arenaChoice {
	colls := slices.Sorted(maps.Keys(policies))
	out := make([]arenaChoice, len(colls))
	for i, coll := range colls {
		alg, err := chooseShared(coll, size, 0, true)
		out[i] = arenaChoice{coll, alg, err}
	}
	return out
}

// Sizes of the arena's parts (shmcoll's layout).
const (
	arenaLine       = shmcoll.Line
	arenaHeader     = shmcoll.CallHeader
	arenaHeaderSets = shmcoll.HeaderSets
)

// Counters of a rank: kinds of progress.
const (
	arrivedKind = iota // the rank's operand segment is in its slot
	reducedKind        // the rank's share of the segment is in the result area
	arenaKinds
)

// The layout keeps a line for each kind of counter of each rank.
var _ [shmcoll.CountersPerRank - arenaKinds]struct{}
var _ [arenaKinds - shmcoll.CountersPerRank]struct{}

// memoryConn is an optional ability of a Conn: memory every rank of the
// group maps (ranks on one host; package mpi offers it on the world
// communicator of a job on gorun's local transport). SharedMemory returns
// nil when there is none.
type memoryConn interface {
	SharedMemory() *shmcoll.Region
}

// arenaFor is the arena of region, made on first use.
func arenaFor(region *shmcoll.Region) *arena { return region.Attach(newArenaState).(*arena) }

func newArenaState(region *shmcoll.Region) any { return newArena(region) }

// newArena lays an arena over region.
func newArena(region *shmcoll.Region) *arena {
	a := &arena{mem: region.Mem(), rank: region.Rank(), size: region.Size(), slotBytes: region.SlotBytes(),
		resultBytes: region.ResultBytes(), pieceBytes: bcastPieceBytes,
		inlineBytes: arenaHeader - headerInline, hooks: region.Hooks()}
	a.slots = shmcoll.HeaderBytes(a.size)
	a.result = a.slots + a.size*a.slotBytes
	for k := range a.seen {
		a.seen[k] = make([]uint32, a.size)
	}
	a.choices = sharedChoices(a.size)
	a.setCPU(boundCPU())
	return a
}

// operandScratch returns two slices of a.size views of E, zeroed, kept
// in a for the next call of the same element type.
func operandScratch[E any](a *arena) (operands, parts [][]E) {
	s, ok := a.operands.(*[][]E)
	if !ok || len(*s) != 2*a.size {
		views := make([][]E, 2*a.size)
		s = &views
		a.operands = s
	}
	return (*s)[:a.size:a.size], (*s)[a.size:]
}

// endCall records the end of the call in progress and moves to the next
// header set.
func (a *arena) endCall() {
	a.ends[a.calls%shmcoll.HeaderSets] = a.steps
	a.calls++
}

// counter is rank's progress counter of kind; waiters counts the ranks
// asleep on it.
func (a *arena) counter(kind, rank int) (word, waiters *atomic.Uint32) {
	off := (rank*arenaKinds + kind) * arenaLine
	return (*atomic.Uint32)(unsafe.Pointer(&a.mem[off])), (*atomic.Uint32)(unsafe.Pointer(&a.mem[off+64]))
}

// name is the rank that errors give rank q of the arena's group: its rank
// in the communicator whose call this is (shmcoll.Hooks.Names).
func (a *arena) name(q int) int {
	if a.hooks.Names == nil {
		return q
	}
	return a.hooks.Names[q]
}

// post publishes this rank's progress of kind and wakes its sleepers.
func (a *arena) post(kind int, value uint32) {
	if kind == reducedKind {
		a.deferred = 0 // counters are cumulative: this post covers them
	}
	word, waiters := a.counter(kind, a.rank)
	word.Store(value)
	if waiters.Load() != 0 {
		shm.Wake(word)
	}
}

// allReached reports whether the counters waitRanks waits for have all
// reached target. A peer that finished cleanly did so after posting what
// the others wait for: its absence fails a wait only if a counter still
// lags.
func (a *arena) allReached(kind, only int, target uint32) bool {
	for q := 0; q < a.size; q++ {
		if q == a.rank || (only >= 0 && q != only) {
			continue
		}
		if word, _ := a.counter(kind, q); !reached(word.Load(), target) {
			return false
		}
	}
	return true
}

// arrive publishes this rank's header for step (written, with any value
// in it or the first piece in its slot): its stamp, then its arrived
// counter, for those who sleep on it.
func (a *arena) arrive(step uint32) {
	a.stamp(a.rank).Store(step)
	a.post(arrivedKind, step)
}

// stamp is rank q's header stamp in the current call's set.
func (a *arena) stamp(q int) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&a.header(q)[headerStamp]))
}

// arenaStampPolls: polls of a header's stamp before a wait for another
// rank's header falls back to its counter (waitRanks: more polling, then
// sleep), when every rank has a core of its own; ranks that share cores
// look once and go to the counter, whose wait gives the core away.
const arenaStampPolls = 4096

// waitArrivals waits until rank only (every other rank when only < 0)
// has published its header for step (arrive). It polls the headers'
// stamps, which sit in the line the call reads next: a wait that ends
// there costs one cache miss per rank, not two (the counter's line, then
// the header's). A wait that does not end soon is waitRanks on the
// arrived counters, with its sleeping and its checks.
func (a *arena) waitArrivals(only int, step uint32) error {
	polls := arenaStampPolls
	if a.hooks.Yield {
		polls = 1
	}
	for q := range a.size {
		if q == a.rank || (only >= 0 && q != only) || reached(a.seen[arrivedKind][q], step) {
			continue
		}
		stamp := a.stamp(q)
		for i := 0; !reached(stamp.Load(), step); i++ {
			if i >= polls {
				return a.waitRanks(arrivedKind, only, step)
			}
		}
	}
	return nil
}

// arrived reports whether rank q has published its header for step, from
// what this rank saw of its counter or from its header's stamp.
func (a *arena) arrived(q int, step uint32) bool {
	return reached(a.seen[arrivedKind][q], step) || reached(a.stamp(q).Load(), step)
}

// reached reports whether counter value has got to target (counters wrap).
func reached(value, target uint32) bool { return int32(value-target) >= 0 }

// Wait tuning: how long a sleep lasts before the wait checks on the job,
// and how long a rank sleeps before it counts as blocked.
const (
	arenaSleep        = 10 * time.Millisecond
	arenaBlockedAfter = 200 * time.Millisecond
	// arenaYieldPolls: polls, each giving the core away, before a rank
	// that shares its core sleeps. A sleep costs a futex wake-up, which
	// on a busy machine comes late and makes the tail: at 8 polls, means
	// of back-to-back calls at np=4 on 2 shared cores (bench/ops, three
	// alternated runs, load 10) were Allreduce 8 B 11-30 us (p99 98-411),
	// Bcast 8 B 11-28 us (p99 115-148), AllreduceSliceInto 256 KiB 207-215
	// us, BcastInto 256 KiB 113-627 us; at 64 polls 8-12 us (p99 62-74),
	// 3.6-6.7 us (p99 45-57), 138-157 us and 39-64 us. At np=8 the means
	// held or improved (AllreduceSliceInto 8 B 61-65 against 41-42 us,
	// Bcast 256 KiB 600 against 365-379 us; Allreduce 8 B 95-97 against
	// 87-106 us), the p50 of small calls rising (20 to 32 us). 512 and
	// 4096 polls changed nothing (Barrier, Allreduce 8 B, Bcast 8 B at
	// np=4, three alternated runs at load 15: means of calls under 1 ms
	// and p99 within the runs' spread): few waits end in a sleep (about
	// 1.5 in 1000 on each rank); the tail is yields that keep the core away
	// 32-64 us (1.5-2% of the yields of a Barrier loop).
	arenaYieldPolls = 64
	// longCallBytes: in an AllreduceSlice moving this much per rank, a
	// rank that shares its core sleeps at once instead of polling: its wait
	// is long, and each poll takes the core from a rank with work.
	// Measured at np=4 on 2 cores (bench/collbench, polling against
	// sleeping at once, medians of 5-7 alternating runs): polling wins
	// below 1 MiB (64 KiB: 104 against 200 us; 256 KiB: 230 against 295
	// us), 1 MiB is even (0.86-1.17 against 0.88-0.91 ms in two sets), and
	// sleeping wins above (8 MiB: 4.54 against 4.16 ms; at np=8, 10.5
	// against 8.9 ms). A large Bcast is better off polling (8 MiB: 1.91
	// against 2.04 ms), its pieces being short waits.
	longCallBytes = 1 << 20
)

// A sleep through a raw futex system call for a wait's first millisecond
// (the goroutine keeps its P, so that sysmon takes no P back from a
// system call and stays off its fastest tick: coremates.go) was tried and
// dropped: a rank's main thread sleeps about once per 20000 back-to-back
// small Bcasts at np=4 (voluntary context switches of the main thread,
// 0.03-0.05 per 1000 calls), too seldom to matter, and at np=2 Barrier
// and Bcast 8 B means of calls under 1 ms stayed within the runs' spread
// (0.50-0.55 against 0.52-0.67 us and 0.26-0.34 against 0.26-0.33, four
// alternated runs at load 3.5).

// arenaYieldLong: a yield that kept the core away longer than this gave it
// to a process with work (not a rank polling by turns, whose turn is a
// poll), so the rank sleeps instead of yielding again: a sleeper is woken
// ahead of a running hog, a yielder waits behind it. np=4 on 2 cores,
// machine load 7, 4 alternated runs of 20000 back-to-back calls, main
// (yielding 64 times whatever it takes) against branch h-tail (this rule,
// comm's lingering and mpi's operator cache together): Allreduce 8 B 6.2
// -> 5.4 us, Barrier 7.2 -> 6.1, Bcast 8 B 3.8 -> 3.6.
const arenaYieldLong = 50 * time.Microsecond

// yieldBriefly yields the core and reports whether the core came back
// within arenaYieldLong.
//
// Tried and dropped (np=4 on 2 cores, bench/ops, alternated runs at load
// 11-19, against this code): a raw sched_yield (no hand-off of the P to
// sysmon during the yield): Barrier means 14-19 against 4.6-9 us, calls
// over 1 ms up; runtime.Gosched every 256 calls, which keeps sysmon from
// preempting the polling goroutine (and so from handing its P to a
// spinning thread during a yield): yields of 32-64 us fell from 2% to
// 0.8% and the Barrier p99 from 68-72 to 47-48 us, but calls over 1 ms
// rose from 10-50 to 134-284 per loop and the means doubled (9 -> 20 us):
// on a loaded machine the hand-off is what brings a rank back ahead of
// the other processes.
func yieldBriefly() bool {
	start := time.Now()
	shm.Yield()
	return time.Since(start) < arenaYieldLong
}

// waitAll waits until every other rank's counter of kind reaches target.
// It polls for hooks.Spin (arenaYieldPolls times, yielding, when ranks
// share cores; not at all in a long call when they do), then sleeps on
// the laggard's counter; every arenaSleep it runs hooks.Check, whose error
// ends the wait.
func (a *arena) waitAll(kind int, target uint32) error { return a.waitRanks(kind, -1, target) }

// waitOne is waitAll for rank q's counter alone.
func (a *arena) waitOne(kind, q int, target uint32) error { return a.waitRanks(kind, q, target) }

// waitRanks waits for rank only's counter, or every other rank's when
// only < 0.
func (a *arena) waitRanks(kind, only int, target uint32) error {
	var start, lastCheck, idleSince time.Time
	var leave func()
	var state uint64 // the wait published in the presence line, once it yields
	spinning := true
	defer func() {
		if state != 0 {
			a.publishWait(0)
		}
		if leave != nil {
			leave()
		}
	}()
	for q := 0; q < a.size; q++ {
		if q == a.rank || (only >= 0 && q != only) {
			continue
		}
		if reached(a.seen[kind][q], target) {
			continue
		}
		word, waiters := a.counter(kind, q)
		yields := 0
		for i := 0; ; i++ {
			v := word.Load()
			if reached(v, target) {
				a.seen[kind][q] = v
				break
			}
			if spinning && !a.hooks.Yield {
				// Polling: the clock is read every 64 polls, from the
				// 64th on (most waits of a small call end sooner, and a
				// clock read costs as much as the call's own work).
				switch {
				case i%64 != 63:
					continue
				case start.IsZero():
					start, lastCheck = time.Now(), time.Now()
					continue
				case time.Since(start) < a.hooks.Spin:
					continue
				}
				spinning = false
			}
			if spinning && !a.long {
				if state == 0 {
					state = waitState(kind, only, target)
					a.publishWait(state)
				}
				if a.coreIdle(state) {
					// No rank on this core has work: poll, a while
					// that counts as idlePollYields yields towards the
					// sleep (the wait then sleeps about as soon as one
					// that yielded all along).
					if idleSince.IsZero() {
						idleSince = time.Now()
						yields += idlePollYields - 1
					}
					if i%16 != 15 || time.Since(idleSince) < arenaIdlePoll {
						continue
					}
				}
				idleSince = time.Time{}
				if yields < arenaYieldPolls && yieldBriefly() {
					yields++
					continue
				}
			}
			spinning = false
			if start.IsZero() {
				// A yielding wait reads the clock only to sleep: most
				// end after one yield, and a clock read costs as much as
				// a poll's work several times over.
				start = time.Now()
				lastCheck = start
			}
			waiters.Add(1)
			if v = word.Load(); !reached(v, target) {
				shm.Wait(word, v, arenaSleep)
			}
			waiters.Add(^uint32(0))
			now := time.Now()
			if now.Sub(lastCheck) >= arenaSleep {
				lastCheck = now
				if err := a.watch(kind, target); err != nil {
					return err
				}
				if a.hooks.Check != nil {
					if err := a.hooks.Check(); err != nil && !a.allReached(kind, only, target) {
						return err
					}
				}
				if leave == nil && a.hooks.Blocked != nil && now.Sub(start) >= arenaBlockedAfter {
					leave = a.hooks.Blocked(a.opName(), func() bool { return !a.allReached(kind, only, target) })
				}
			}
		}
	}
	return nil
}

// watch runs while a wait sleeps: it ends the wait with the mismatch the
// Conn learned of (another rank's alarm), or with the one this rank finds
// in the header of a rank that has arrived for this step in another call
// (which may never come to the step this rank waits for). Only a CallConn
// numbers calls, so only with one can a header tell that it is of this
// call, not of the next.
func (a *arena) watch(kind int, target uint32) error {
	if a.check == nil {
		return nil
	}
	if err := a.check.CheckCall(); err != nil {
		return err
	}
	if kind != arrivedKind {
		return nil
	}
	for q := range a.size {
		// The counter, loaded after the header was written and posted,
		// makes the header visible.
		if word, _ := a.counter(arrivedKind, q); q == a.rank || !reached(word.Load(), target) {
			continue
		}
		theirs, ok := ParseSignature(a.header(q)[headerSig:])
		mine := a.sig
		mine.Count, theirs.Count = -1, -1 // lengths are compared by the call itself
		if ok && theirs.Seq == mine.Seq && !mine.Matches(theirs) {
			return Mismatch(a.name(a.rank), a.sig, a.name(q), theirs)
		}
	}
	return nil
}
