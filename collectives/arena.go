package collectives

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gorun-mpi/gorun/internal/shm"
)

// An Arena is memory that every rank of a group on one host maps, through
// which a collective moves data without messages: each rank copies its
// operand in, reduces its share of the vector straight from the others'
// copies, and copies the result out (see shmAllreduce). gorun creates one
// for every job on its local transport; the mpi package lends it to the
// world communicator's collectives.
//
// Layout: for each rank, two counters (operands copied in, share reduced),
// each on a cache line of its own with a count of sleepers; two sets of call
// headers, one per rank in each (its vector's length, its choice of
// algorithm, its failure if any, a small value), which the ranks compare
// before they touch each other's data; then one slot per rank for a segment
// of its operand; then the result area.
//
// A call writes the header set the call before it did not, so a call that
// writes nothing but headers (a Barrier, a small Bcast or AllreduceSlice)
// need only wait until every rank is done with the call before last, which
// in a run of collectives it always is: it does not wait for the slowest
// rank to leave the previous call. A call that writes slots or the result
// area waits for every rank to be done with the previous call.
type Arena struct {
	mem         []byte
	rank, size  int
	slotBytes   int // per rank: the largest segment of an operand
	resultBytes int
	pieceBytes  int // a large Bcast is posted in pieces of this size
	inlineBytes int // values up to this size travel in the call header
	slots       int // offset of rank 0's slot
	result      int // offset of the result area
	hooks       ArenaHooks

	mu    sync.Mutex // one call at a time (collectives on one communicator are ordered anyway)
	steps uint32     // segments done so far: the same count on every rank
	calls uint32     // calls done so far (the same on every rank): picks the header set
	// lastEnd and prevEnd are steps at the end of the last call and of
	// the one before it.
	lastEnd, prevEnd uint32
	op               string // the collective in progress, for deadlock reports
	// sig is the call in progress, lastSig this rank's call through the
	// arena before it (both published in the call's header), check the
	// call's CallConn.CheckCall (or nil), run while a wait sleeps.
	sig, lastSig Signature
	check        CallConn
	broken       error // a call failed midway: the counters are out of step
	long         bool  // the call in progress moves longCallBytes or more per rank
}

// ArenaHooks connect an Arena's waits to the rest of the runtime.
type ArenaHooks struct {
	// Check is called every few milliseconds while a rank waits for the
	// others; an error (a peer lost, a context ended) ends the call.
	Check func() error
	// Blocked is called when a wait in the collective named op has slept a
	// while (for deadlock reports), with pending, which reads the counters
	// the wait waits for and reports whether they still hold it back; it
	// returns the function that ends the report.
	Blocked func(op string, pending func() bool) (leave func())
	// Spin is how long a wait polls before it sleeps; Yield gives the core
	// away between polls (ranks outnumber cores).
	Spin  time.Duration
	Yield bool
}

// Arena sizes: a line per counter, and the slot and result areas. Slots
// shrink in large jobs so that the arena stays within about 64 MiB plus
// the result area; tmpfs allocates only the pages a job writes.
const (
	arenaLine        = 128
	arenaHeader      = 16 << 10 // a call header: see writeHeader
	arenaAlign       = 4096
	arenaResultBytes = 16 << 20
	arenaSlotMax     = 8 << 20
	arenaSlotMin     = 1 << 20
	arenaSlotsTotal  = 64 << 20
)

// Counters of a rank: kinds of progress.
const (
	arrivedKind = iota // the rank's operand segment is in its slot
	reducedKind        // the rank's share of the segment is in the result area
	arenaKinds
)

// arenaSlotBytes is the slot size of each rank in a group of size ranks.
func arenaSlotBytes(size int) int {
	s := arenaSlotsTotal / max(size, 1)
	s = min(max(s, arenaSlotMin), arenaSlotMax)
	return s &^ (arenaAlign - 1)
}

// arenaHeaderBytes is the arena's counters and call headers: two sets of
// headers, used by alternate calls (see Arena.header).
func arenaHeaderBytes(size int) int {
	h := size*arenaKinds*arenaLine + 2*size*arenaHeader
	return (h + arenaAlign - 1) &^ (arenaAlign - 1)
}

// ArenaSize is the number of bytes an arena for a group of size ranks
// needs (gorun sizes the job's shared memory file with it).
func ArenaSize(size int) int {
	return arenaHeaderBytes(size) + size*arenaSlotBytes(size) + arenaResultBytes
}

// NewArena lays an arena for rank of a group of size ranks over mem, which
// every rank of the group maps and which starts zeroed.
func NewArena(mem []byte, rank, size int, hooks ArenaHooks) (*Arena, error) {
	return newArena(mem, rank, size, arenaSlotBytes(size), arenaResultBytes, hooks)
}

// newArena is NewArena with the slot and result sizes given (tests use
// small ones to reach every path with small vectors).
func newArena(mem []byte, rank, size, slotBytes, resultBytes int, hooks ArenaHooks) (*Arena, error) {
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("collectives: arena for rank %d of %d", rank, size)
	}
	if need := arenaHeaderBytes(size) + size*slotBytes + resultBytes; len(mem) < need {
		return nil, fmt.Errorf("collectives: arena of %d bytes for %d ranks, want %d", len(mem), size, need)
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(mem)))%arenaAlign != 0 {
		return nil, fmt.Errorf("collectives: arena memory is not page-aligned")
	}
	a := &Arena{mem: mem, rank: rank, size: size, slotBytes: slotBytes,
		resultBytes: resultBytes, pieceBytes: bcastPieceBytes,
		inlineBytes: arenaHeader - headerInline, hooks: hooks}
	a.slots = arenaHeaderBytes(size)
	a.result = a.slots + size*a.slotBytes
	return a, nil
}

// Rank and Size are those of the group the arena was made for.
func (a *Arena) Rank() int { return a.rank }

// Size is the number of ranks sharing the arena.
func (a *Arena) Size() int { return a.size }

// counter is rank's progress counter of kind; waiters counts the ranks
// asleep on it.
func (a *Arena) counter(kind, rank int) (word, waiters *atomic.Uint32) {
	off := (rank*arenaKinds + kind) * arenaLine
	return (*atomic.Uint32)(unsafe.Pointer(&a.mem[off])), (*atomic.Uint32)(unsafe.Pointer(&a.mem[off+64]))
}

// post publishes this rank's progress of kind and wakes its sleepers.
func (a *Arena) post(kind int, value uint32) {
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
func (a *Arena) allReached(kind, only int, target uint32) bool {
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

// reached reports whether counter value has got to target (counters wrap).
func reached(value, target uint32) bool { return int32(value-target) >= 0 }

// Wait tuning: how long a sleep lasts before the wait checks on the job,
// and how long a rank sleeps before it counts as blocked.
const (
	arenaSleep        = 10 * time.Millisecond
	arenaBlockedAfter = 200 * time.Millisecond
	// arenaYieldPolls: polls, each giving the core away, before a rank
	// that shares its core sleeps (more were slower: the polls preempt
	// the ranks with work).
	arenaYieldPolls = 8
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

// waitAll waits until every other rank's counter of kind reaches target.
// It polls for hooks.Spin (arenaYieldPolls times, yielding, when ranks
// share cores; not at all in a long call when they do), then sleeps on
// the laggard's counter; every arenaSleep it runs hooks.Check, whose error
// ends the wait.
func (a *Arena) waitAll(kind int, target uint32) error { return a.waitRanks(kind, -1, target) }

// waitOne is waitAll for rank q's counter alone.
func (a *Arena) waitOne(kind, q int, target uint32) error { return a.waitRanks(kind, q, target) }

// waitRanks waits for rank only's counter, or every other rank's when
// only < 0.
func (a *Arena) waitRanks(kind, only int, target uint32) error {
	var start, lastCheck time.Time
	var leave func()
	spinning := true
	defer func() {
		if leave != nil {
			leave()
		}
	}()
	for q := 0; q < a.size; q++ {
		if q == a.rank || (only >= 0 && q != only) {
			continue
		}
		word, waiters := a.counter(kind, q)
		for i := 0; ; i++ {
			v := word.Load()
			if reached(v, target) {
				break
			}
			if start.IsZero() {
				start, lastCheck = time.Now(), time.Now()
			}
			if spinning {
				if a.hooks.Yield {
					if i < arenaYieldPolls && !a.long {
						shm.Yield()
						continue
					}
				} else if i%64 != 0 || time.Since(start) < a.hooks.Spin {
					continue
				}
				spinning = false
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
					leave = a.hooks.Blocked(a.op, func() bool { return !a.allReached(kind, only, target) })
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
func (a *Arena) watch(kind int, target uint32) error {
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
			return Mismatch(a.rank, a.sig, q, theirs)
		}
	}
	return nil
}
