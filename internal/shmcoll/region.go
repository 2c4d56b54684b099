// Package shmcoll is the shared memory of the collectives: the layout of
// the arena through which the ranks of one host move a collective's data
// without messages, its size (gorun sizes the job's memory file with
// Size), and the Region that package mpi makes over that memory and lends
// to package collectives, which keeps its arena's state in it (Attach).
// The algorithms that use the arena live in package collectives
// (shmallreduce.go, shmbcast.go, arena.go); only mpi and cmd/gorun use
// this package.
//
// # Usage
//
//	size := shmcoll.Size(np)                             // gorun: the job's memory file
//	region, err := shmcoll.New(mem, rank, np, hooks)     // a rank: over the mapped file
//	// then a collectives.Conn lends it: SharedMemory() *shmcoll.Region
package shmcoll

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Layout of an arena for a group of n ranks: for each rank, CountersPerRank
// progress counters, each on a line of its own (Line bytes); for each rank,
// a presence line (PresenceAt: the CPU it is bound to and what it waits
// for, read by the ranks that share its core); HeaderSets
// sets of call headers of CallHeader bytes per rank; then one slot of SlotBytes(n)
// per rank; then the result area (ResultBytes). Sections start on Align.
const (
	Line            = 128
	CountersPerRank = 2
	CallHeader      = 16 << 10
	// HeaderSets: calls take the sets in turn, so a call that writes only
	// headers (a small Bcast) waits for the ranks to be done with the call
	// HeaderSets back, not the one before (a power of two). The more sets,
	// the further a root of small Bcasts runs ahead, and the less often
	// ranks that share a core must take turns: BcastInto 8 B at np=4 on 2
	// cores, the mean of calls under 1 ms (bench/ops -stats, three
	// alternated runs, machine load 11): 8 sets 1.39-1.43 us, 32 sets
	// 0.99-1.09, 128 sets 0.94-1.01. Once ranks whose core-mates all wait
	// poll instead of yielding (package collectives, coremates.go), Bcast
	// 8 B at np=4, the same measure, eight alternated runs at load 9-10:
	// 32 sets 0.91-1.62 us (mean 1.17), 64 sets 0.83-1.06 (0.93), and in
	// four of them 128 sets 0.89-1.09 (0.99); yields per 1000 calls 40-74,
	// 20-30, 10-19. Again on 2026-11-30 (loops of 20000 back-to-back
	// Bcasts without a clock read per call, the best of six loops per job,
	// four alternated jobs at load 4): 64 sets 0.55-0.67 us, 128 0.59-0.69,
	// 256 0.74-0.82; six alternated jobs before them had 128 sets ahead
	// (0.58-0.72 against 0.69-0.79), so 128 is within the noise.
	// 64 keeps the headers to 1 MiB per rank (tmpfs allocates only the
	// pages calls touch: a small call, the first page of its header).
	HeaderSets  = 64
	Align       = 4096
	ResultBytes = 16 << 20
	slotMax     = 8 << 20
	slotMin     = 1 << 20
	slotsTotal  = 64 << 20
)

// SlotBytes is each rank's slot in a group of n ranks: slots shrink in
// large jobs so that the arena stays within about 64 MiB plus the result
// area (tmpfs allocates only the pages a job writes).
func SlotBytes(n int) int {
	s := slotsTotal / max(n, 1)
	s = min(max(s, slotMin), slotMax)
	return s &^ (Align - 1)
}

// HeaderBytes is the counters and the HeaderSets sets of call headers of
// a group of n ranks.
func HeaderBytes(n int) int {
	h := HeadersAt(n) + HeaderSets*n*CallHeader
	return (h + Align - 1) &^ (Align - 1)
}

// PresenceAt is the offset of rank's presence line in the arena of a
// group of n ranks.
func PresenceAt(n, rank int) int { return (n*CountersPerRank + rank) * Line }

// HeadersAt is the offset of the first set of call headers in the arena
// of a group of n ranks.
func HeadersAt(n int) int { return n * (CountersPerRank + 1) * Line }

// Size is the number of bytes an arena for a group of n ranks needs.
func Size(n int) int { return sizeOf(n, SlotBytes(n), ResultBytes) }

func sizeOf(n, slotBytes, resultBytes int) int { return HeaderBytes(n) + n*slotBytes + resultBytes }

// Hooks connect the arena's waits to the rest of the runtime.
type Hooks struct {
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
	// Names, when set, is the rank each rank of the group has in the
	// communicator the errors speak of: a group of one host's ranks in a
	// job over several hosts names rank q of the group Names[q] (its world
	// rank). Unset, rank q is q.
	Names []int
}

// Region is one rank's view of the memory every rank of a group on one
// host maps, laid out as above, with the hooks its waits call.
type Region struct {
	mem                    []byte
	rank, size             int
	slotBytes, resultBytes int
	hooks                  Hooks

	once  sync.Once
	state atomic.Pointer[any]
}

// New makes rank's region, for a group of size ranks, over mem: memory
// every rank of the group maps, page-aligned, zeroed at first, of at least
// Size(size) bytes.
func New(mem []byte, rank, size int, hooks Hooks) (*Region, error) {
	return NewSized(mem, rank, size, SlotBytes(size), ResultBytes, hooks)
}

// NewSized is New with the slot and result sizes given (tests use small
// ones to reach every path with small vectors).
func NewSized(mem []byte, rank, size, slotBytes, resultBytes int, hooks Hooks) (*Region, error) {
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("shmcoll: region for rank %d of %d", rank, size)
	}
	if need := sizeOf(size, slotBytes, resultBytes); len(mem) < need {
		return nil, fmt.Errorf("shmcoll: %d bytes of shared memory for %d ranks, want %d", len(mem), size, need)
	}
	if hooks.Names != nil && len(hooks.Names) != size {
		return nil, fmt.Errorf("shmcoll: %d rank names for a group of %d", len(hooks.Names), size)
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(mem)))%Align != 0 {
		return nil, fmt.Errorf("shmcoll: shared memory is not page-aligned")
	}
	return &Region{mem: mem, rank: rank, size: size, slotBytes: slotBytes, resultBytes: resultBytes, hooks: hooks}, nil
}

// Mem is the shared memory.
func (r *Region) Mem() []byte { return r.mem }

// Rank is this rank in the group.
func (r *Region) Rank() int { return r.rank }

// Size is the number of ranks in the group.
func (r *Region) Size() int { return r.size }

// SlotBytes is each rank's slot; ResultBytes the result area.
func (r *Region) SlotBytes() int { return r.slotBytes }

// ResultBytes is the size of the result area.
func (r *Region) ResultBytes() int { return r.resultBytes }

// Name is the rank that errors give rank q of the group (Hooks.Names).
func (r *Region) Name(q int) int {
	if r.hooks.Names == nil || q < 0 || q >= len(r.hooks.Names) {
		return q
	}
	return r.hooks.Names[q]
}

// Hooks are the hooks the region was made with.
func (r *Region) Hooks() Hooks { return r.hooks }

// Attach returns the state kept with the region, made by newState(r) on
// the first call: the collectives keep their arena's progress (calls and
// steps done, the call in progress) there, one per region. Later calls cost
// an atomic load.
func (r *Region) Attach(newState func(*Region) any) any {
	if s := r.state.Load(); s != nil {
		return *s
	}
	r.once.Do(func() {
		s := newState(r)
		r.state.Store(&s)
	})
	return *r.state.Load()
}
