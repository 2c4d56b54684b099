package collectives

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// shmBcast is Bcast through the arena. The root encodes the value, copies
// it into its header when it is small (Arena.inlineBytes), else into its
// slot when it fits, and publishes the header (size, algorithm, failure);
// the others wait for the root alone, copy the value out and decode it. A
// root whose value goes in the header waits for no one (see Arena). A
// value larger than a slot, or an algorithm forced by GORUN_COLL_BCAST,
// goes by messages instead: the header says so, and every rank returns
// errUseMessages.
//
// A value larger than a piece (Arena.pieceBytes) goes in pieces, each
// posted as a step of its own, so that the others copy out one piece while
// the root copies in the next (the header says so: headerPieces). The
// others copy into the caller's memory (BcastInto) or into a new slice
// that Go does not clear and whose pages are mapped first (newResult):
// Bcast 8 MiB at np=4 on 2 cores, the others copying the whole value out
// into a clone once the root had copied it in, was 3.5-8.4 ms a call, in
// pieces into newResult 3.3-5.4 (into make's cleared slice it had lost).
// Into a new result the others copy with non-temporal stores (copyAround:
// 8 MiB at np=4, means 2.05-2.14 -> 1.81-1.84 ms).
//
// into, when not nil (on every rank: BcastInto), gives a rank other than
// the root the memory to copy the value into, once the header has told it
// the size; the decoded value is then a view of that memory. Its error is
// this rank's alone: the rank still keeps step with the others, but reads
// nothing.
func shmBcast[T any](a *arena, sig Signature, check CallConn, codec Codec[T], v T, root int, into func(count int) ([]byte, error)) (T, error) {
	name := "Bcast"
	if into != nil {
		name = "BcastInto"
	}
	return inArena(a, name, root, sig, check, func() (T, error) {
		return shmBcastLocked(a, codec, v, root, into)
	})
}

// bcastPieceBytes is the piece a large broadcast is posted in (the size
// copyCached writes through the cache, so the readers find it there).
const bcastPieceBytes = cachedCopyBytes

// bcastPieces is how a broadcast of count bytes goes through the arena:
// in n pieces (and steps) of size bytes, the last one shorter. It is one
// piece, even of no bytes, unless inPieces.
func (a *arena) bcastPieces(count int, inPieces bool) (n, size int) {
	if !inPieces || count <= a.pieceBytes {
		return 1, max(count, 1)
	}
	return (count + a.pieceBytes - 1) / a.pieceBytes, a.pieceBytes
}

func shmBcastLocked[T any](a *arena, codec Codec[T], v T, root int, into func(count int) ([]byte, error)) (T, error) {
	var zero T
	p, me := a.size, a.rank
	first := a.steps
	slot := a.mem[a.slots+root*a.slotBytes : a.slots+(root+1)*a.slotBytes]
	if me == root {
		payload, err := codec.Encode(v)
		var f *failure
		alg := algShm
		if err != nil {
			f = localFailure(a.name(me), fmt.Errorf("encoding the broadcast value: %w", err))
		} else if alg, err = a.choose("Bcast"); err != nil {
			f = localFailure(a.name(me), err)
		} else if alg == algShm && len(payload) > len(slot) {
			alg = tableChoice(policies["Bcast"], p, len(payload), false)
		}
		// A value that fits the header leaves the slot alone: the others
		// need only be done with the call before last (see Arena).
		usesSlot := f == nil && alg == algShm && len(payload) > a.inlineBytes
		if err := a.waitAll(reducedKind, a.doneBefore(usesSlot)); err != nil {
			return zero, err
		}
		if !usesSlot && reached(a.calls, a.claimedTo) {
			a.claimAhead()
		}
		a.writeHeader(kindBcast, len(payload), alg, f)
		if f != nil || alg != algShm {
			a.arrive(first + 1)
			return zero, a.endStep(first+1, f, alg)
		}
		if !usesSlot {
			copy(a.header(me)[inlineAt(len(payload)):], payload)
			a.arrive(first + 1)
			return v, a.endStep(first+1, nil, alg)
		}
		a.header(me)[headerPieces] = 1
		chunks, piece := a.bcastPieces(len(payload), true)
		for k := range chunks {
			lo, hi := k*piece, min(len(payload), (k+1)*piece)
			copyCached(slot[lo:hi], payload[lo:hi])
			if k == 0 {
				a.arrive(first + 1) // the header, and the first piece
			} else {
				a.post(arrivedKind, first+1+uint32(k))
			}
		}
		return v, a.endStep(first+uint32(chunks), nil, alg)
	}
	if a.deferred > 0 && !a.arrived(root, first+1) {
		// The root may be waiting for this rank's deferred posts (a
		// large value waits for every rank to be done with the call
		// before): post them before waiting for the root.
		a.postDeferred()
	}
	if reached(a.calls, a.aheadTo) {
		a.touchAhead(root)
	}
	if err := a.waitArrivals(root, first+1); err != nil {
		return zero, err
	}
	h := a.header(root)
	count := int(binary.LittleEndian.Uint64(h[headerCount:]))
	alg := algorithm(h[headerAlg])
	var f *failure
	switch {
	case h[headerCode] != 0:
		f = headerFailure(a.name(root), h)
	default:
		f = a.headerMismatch(root, false)
	}
	switch {
	case f != nil:
	case alg == algShm && count > len(slot):
		f = localFailure(a.name(me), failf(ErrProtocol, "broadcast of %d bytes announced in a slot of %d", count, len(slot)))
	}
	if f != nil || alg != algShm {
		return zero, a.endStep(first+1, f, alg)
	}
	if count <= a.inlineBytes {
		slot = h[inlineAt(count):]
	}
	chunks, piece := a.bcastPieces(count, h[headerPieces] != 0)
	last := first + uint32(chunks)
	var body []byte
	var err error
	direct := true // copy each piece into body as it comes
	switch {
	case into != nil:
		body, err = into(count)
	case chunks > 1:
		body = newResult(count)
	default:
		direct = false
	}
	switch {
	case err != nil:
		// Nothing to read: keep step with the root, which goes on.
		a.post(reducedKind, last)
		a.steps = last
		return zero, callError{err}
	case !direct:
		// One copy, into memory Go need not zero first (the value in
		// one piece came with the header: see arrive).
		if last != first+1 {
			if err := a.waitOne(arrivedKind, root, last); err != nil {
				return zero, err
			}
		}
		if count <= a.inlineBytes {
			// make and copy: a small value's allocation costs less than
			// through Clone's append (8 B: 28 against 39 ns here).
			body = make([]byte, count)
			copy(body, slot)
		} else {
			body = slices.Clone(slot[:count])
		}
	default:
		for k := range chunks {
			if k == 0 {
				// The first piece came with the header (see arrive).
			} else if err := a.waitOne(arrivedKind, root, first+1+uint32(k)); err != nil {
				return zero, err
			}
			lo, hi := k*piece, min(count, (k+1)*piece)
			if into == nil {
				copyAround(body[lo:hi], slot[lo:hi])
			} else {
				copy(body[lo:hi], slot[lo:hi])
			}
		}
	}
	// Done with the root's slot and header.
	if count <= a.inlineBytes && !a.hooks.Yield {
		a.deferDone(last)
	} else if err := a.endStep(last, nil, alg); err != nil {
		return zero, err
	}
	out, err := codec.Decode(body)
	if err != nil {
		return zero, callError{fmt.Errorf("decoding the broadcast value: %w", err)}
	}
	return out, nil
}

// doneBefore is the step every other rank must have finished before this
// one writes into the arena: the previous call's last, when the call
// writes a slot or the result area; else the last of the call
// shmcoll.HeaderSets back, whose header set this call reuses.
func (a *arena) doneBefore(usesSlots bool) uint32 {
	if usesSlots {
		return a.steps
	}
	return a.ends[a.calls%shmcoll.HeaderSets]
}

// endStep posts that this rank is done with step's slots and headers, and
// returns the call's outcome: f's error, errUseMessages when the ranks
// chose an algorithm other than algShm, or nil.
func (a *arena) endStep(step uint32, f *failure, alg algorithm) error {
	a.post(reducedKind, step)
	a.steps = step
	switch {
	case f != nil:
		return callError{f.err()}
	case alg != algShm:
		return errUseMessages
	}
	return nil
}

// shmBarrier is Barrier through the arena: every rank posts its arrival
// and waits for the others'.
func shmBarrier(a *arena, sig Signature, check CallConn) error {
	_, err := inArena(a, "Barrier", -1, sig, check, func() (struct{}, error) {
		if err := a.waitAll(reducedKind, a.doneBefore(false)); err != nil {
			return struct{}{}, err
		}
		if reached(a.calls, a.claimedTo) {
			a.claimAhead()
		}
		step := a.steps + 1
		a.writeHeader(kindBarrier, 0, algShm, nil)
		a.arrive(step)
		if err := a.waitArrivals(-1, step); err != nil {
			return struct{}{}, err
		}
		var f *failure
		for q := 0; q < a.size && f == nil; q++ {
			f = a.headerMismatch(q, false)
		}
		if f == nil {
			f = a.previousMismatch()
		}
		a.matchedAll = f == nil
		return struct{}{}, a.endStep(step, f, algShm)
	})
	return err
}

// touchAgain: calls before a rank that found the root of a Bcast not
// ahead reads its counter again (a read costs a miss when it is not).
const touchAgain = 4

// touchAhead, on a rank other than the root of a Bcast, reads the root's
// arrived counter and, when the root has run ahead, the first line of its
// header in each set of the calls it is ahead by, all at once: the loads
// do not depend on each other, so the processor waits for the lines
// together instead of missing the cache once per call as each call reads
// its header (the root wrote them on another core). The next touch is
// due when this rank reaches the last call touched. First for ranks that
// share cores, where the root runs ahead by up to shmcoll.HeaderSets calls
// while the others wait for their turn on a core (np=4 on 2 cores, Bcast
// 8 B, four alternated runs at load 13: means of calls under 1 ms
// 1.35-1.52 -> 1.00-1.26 us, p99 42-49 -> 26-38 us); with claimAhead on
// the root, at np=2 too (see there).
func (a *arena) touchAhead(root int) {
	word, _ := a.counter(arrivedKind, root)
	v := word.Load()
	if reached(v, a.seen[arrivedKind][root]) {
		a.seen[arrivedKind][root] = v
	}
	lead := int32(v - a.steps)
	if lead <= 1 {
		a.aheadTo = a.calls + touchAgain
		return
	}
	n := min(uint32(lead), shmcoll.HeaderSets)
	var sum byte
	for j := uint32(1); j < n; j++ {
		sum += a.headerOf(a.calls+j, root)[headerStamp]
	}
	a.touched += sum
	a.aheadTo = a.calls + n
}

// claimAhead, on the root of small Bcasts (and in calls that write only
// their header: Barrier, an Allreduce of a small value), asks for the
// first line of its header in the sets of the next calls that every rank
// is done with (as far as this rank has seen) to be written
// (prefetchWrite): the others
// read those lines shmcoll.HeaderSets calls ago, and a store into a line
// another core holds waits for that copy to be invalidated (the header's
// stamp, an atomic store, waited for it every call). The claims overlap;
// the next claim is due when this rank reaches the last call claimed. A
// hint only: a line claimed too early is taken back by whoever reads it.
//
// Each call of a small Bcast at np=2 stalled twice on one line: the root
// storing into its header, which the others had read a round of header
// sets before, and the others reading it from the root's cache. Either
// alone was the bottleneck once the other was gone (touchAhead alone, or
// claimAhead alone: no change); together, per-call p50 in loops of 100000
// calls (no clock read but the one timing each call, two jobs each, load
// 4.5): root 247-250 -> 171-174 ns, the other rank 240-247 -> 169-195 ns.
// bench/ops, four alternated runs at load 3.4 against main (Open MPI's
// twin in the same runs: p50 0.057-0.059 us, means 0.109-0.127): Bcast 8
// B np=2 p50 0.238-0.241 -> 0.167-0.173 us, means 0.324-0.355 ->
// 0.265-0.351, BcastInto p50 0.229-0.232 -> 0.207-0.212; np=4 p50
// 0.247-0.258 -> 0.167-0.176 but the means stay the turns' (0.78-1.08
// against 0.80-1.11 us at load 3.1-3.4); with yes hogs at np=4 (four:
// two left running by mistake beside the two meant), Bcast 8 B means 74-81
// against 68-74 us, Barrier 2.9 against 2.8-3.3 ms.
//
// A Barrier and an Allreduce whose value travels in the header claim
// ahead too (their header is all they write): np=2 p50 of 50000-call
// loops, seven alternated runs at load 11-14 against Bcast's claims alone,
// Allreduce 8 B 0.396-0.442 -> 0.386-0.415 us (lower in all seven),
// Barrier 0.348-0.374 -> 0.340-0.362 (lower in five); np=4 p50 unchanged
// (Barrier 3.02-3.08 against 2.98-3.15 us, Allreduce 8 B 3.26-3.44
// against 3.35-3.36, two runs at load 13).
func (a *arena) claimAhead() {
	low := a.steps
	for q := range a.size {
		if q != a.rank && int32(a.seen[reducedKind][q]-low) < 0 {
			low = a.seen[reducedKind][q]
		}
	}
	n := uint32(1)
	for ; n < shmcoll.HeaderSets; n++ {
		// Call calls+n reuses the set of call calls+n-HeaderSets.
		if !reached(low, a.ends[(a.calls+n)%shmcoll.HeaderSets]) {
			break
		}
		prefetchWrite(&a.headerOf(a.calls+n, a.rank)[0])
	}
	a.claimedTo = a.calls + n
}
