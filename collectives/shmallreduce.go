package collectives

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// arenaOf returns c's arena when it can serve this call: the same group,
// and no earlier failure left its counters out of step.
func arenaOf(c Conn) *arena {
	mc, ok := c.(memoryConn)
	if !ok {
		return nil
	}
	region := mc.SharedMemory()
	if region == nil || region.Size() != c.Size() || region.Rank() != c.Rank() {
		return nil
	}
	a := arenaFor(region)
	if a.broken.Load() {
		return nil
	}
	return a
}

// errUseMessages: the ranks agreed, through the arena, on an algorithm that
// moves the data by messages.
var errUseMessages = errors.New("collectives: agreed on a message algorithm")

// shmAllreduce is AllreduceSlice for slices of fixed-size numbers on ranks
// that share an arena. The ranks first agree through it: each writes a
// header (length, algorithm, failure) and waits for the others' (no
// messages, one wait). A failure or a mismatch then ends the call on every
// rank alike; an algorithm other than algShm returns errUseMessages.
//
// algShm itself: a small vector is copied whole into each rank's slot, and
// every rank folds all p operands into its own result (one wait per call).
// A large one is cut into segments that fit a slot; for each, every rank
// copies its operand in (all but its own share), waits for the others, and
// folds its share (partBounds) of the p operands into the result area and
// its own result; once every share is there, each rank copies the others'
// shares out (shmPartitioned).
// Either way each element is combined in rank order, lower ranks on the
// left, so any operator works and every rank gets the same bits.
//
// Against the ring (2(p-1) messages, each a rendezvous and a copy by the
// kernel, into a result that must be zeroed first) it moves each byte with
// plain loads and stores and sleeps at most twice per segment. It folds in
// blocks that stay in the cache: all p operands of a block, then the next.
//
// The result goes into into when it is not nil (it has v's length, checked
// by the caller, and may be v itself), else into a new slice, allocated
// while the other ranks arrive.
func shmAllreduce[E any](a *arena, sig Signature, check CallConn, v, into []E, op Op[E], alg algorithm, own *failure) ([]E, error) {
	return inArena(a, "AllreduceSlice", -1, sig, check, func() ([]E, error) {
		return shmAllreduceLocked(a, v, into, op, alg, own)
	})
}

// inArena runs one collective call named op (of root root, or -1), of
// signature sig, on a: one call at a time, the name kept for deadlock
// reports, check (the Conn's CheckCall, or nil) run while a wait sleeps. A
// failure every rank found alike in the headers (callError) leaves the
// arena in step; any other error (a peer lost midway, a mismatch this rank
// alone found) leaves it out of step, unused from then on. It allocates
// nothing unless the call fails.
func inArena[R any](a *arena, op string, root int, sig Signature, check CallConn, call func() (R, error)) (R, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.op, a.opRoot, a.sig, a.check = op, root, sig, check
	a.matchedAll = false
	sig.Put(a.sigBytes[:])
	if root < 0 || root == a.rank {
		a.postDeferred() // only a Bcast's non-roots may leave them (deferDone)
	}
	out, err := call()
	// One by one, not as a tuple: a tuple assignment copies a.sigBytes
	// through a temporary and reads it back at once, a stall.
	a.lastSig = sig
	a.lastSigBytes = a.sigBytes
	a.check = nil
	a.lastMatchedAll = a.matchedAll && err == nil
	a.long = false
	a.endCall()
	if err == nil || errors.Is(err, errUseMessages) {
		return out, err
	}
	var zero R
	return zero, a.failed(err)
}

// failed is the error of a call through the arena that failed with err,
// and marks the arena out of step unless every rank found err alike.
func (a *arena) failed(err error) error {
	var agreed callError
	if errors.As(err, &agreed) {
		return agreed.err
	}
	a.broken.Store(true)
	if errors.Is(err, ErrCollectiveMismatch) {
		return err
	}
	return fmt.Errorf("%s in shared memory: %w", a.opName(), err)
}

// opName is the call in progress as reports name it: "Bcast(root 2)".
func (a *arena) opName() string {
	if a.opRoot < 0 {
		return a.op
	}
	return fmt.Sprintf("%s(root %d)", a.op, a.opRoot)
}

// callError is a failure every rank of the call found in the headers.
type callError struct{ err error }

func (e callError) Error() string { return e.err.Error() }

// shmSmallBytes: vectors up to this size are folded whole by every rank.
const shmSmallBytes = 32 << 10

func shmAllreduceLocked[E any](a *arena, v, into []E, op Op[E], alg algorithm, own *failure) ([]E, error) {
	p, me := a.size, a.rank
	n := len(v)
	es := int(unsafe.Sizeof(*new(E)))
	segLen := a.slotBytes / es
	small := n*es <= min(shmSmallBytes, a.slotBytes)
	moveData := alg == algShm && own == nil
	a.long = n*es >= longCallBytes
	// A vector that fits a header travels in it, and leaves the slots
	// alone (see Arena).
	inline := small && n*es <= a.inlineBytes
	slot := func(q int) []E {
		if inline {
			return viewOf[E](a.header(q), inlineAt(n*es), n)
		}
		return arenaView[E](a, a.slots+q*a.slotBytes, segLen)
	}

	// Every rank must be done with what we are about to overwrite: our
	// header and slot, read during an earlier call.
	if err := a.waitAll(reducedKind, a.doneBefore(moveData && !inline)); err != nil {
		return nil, err
	}
	if !(moveData && !inline) && reached(a.calls, a.claimedTo) {
		a.claimAhead()
	}
	first := a.steps
	var mlo, mhi int // our share of the first segment (large vectors)
	if moveData {
		if small {
			copy(slot(me), v)
		} else {
			count := min(n, segLen)
			mlo, mhi = partBounds(count, p, me)
			copyCached(slot(me)[:mlo], v[:mlo])
			copyCached(slot(me)[mhi:count], v[mhi:count])
		}
	}
	a.writeHeader(kindAllreduce, n, alg, own)
	a.arrive(first + 1)
	out := into
	if out == nil && moveData && !small {
		// While the others arrive: the result's pages, mapped, not
		// cleared (newResult), which the fold writes into.
		out = newResultOf[E](n)
	}
	if err := a.waitArrivals(-1, first+1); err != nil {
		return nil, err
	}
	if f := a.agree(n, alg, own); f != nil || !moveData {
		return nil, a.endStep(first+1, prefer(f, own), alg)
	}

	operands, parts := operandScratch[E](a)
	defer func() { clear(operands); clear(parts) }() // keep no caller's memory alive between calls
	if small {
		if out == nil {
			out = make([]E, n)
		}
		for q := range operands {
			operands[q] = slot(q)[:n] // ours too: out may be v
		}
		foldBlocks(out, operands, parts, op, es)
		return out, a.endStep(first+1, nil, algShm)
	}
	return shmPartitioned(a, v, out, op, operands, parts, mlo, mhi)
}

// shmPartitioned is the large-vector part of shmAllreduce, entered with the
// first segment's operands in place and agreed on; out (v's length) takes
// the result.
//
// Each rank folds its share of a segment into the result area, where the
// others copy it from, and from there, a block at a time while the block is
// still in the first-level cache, into its own out: at the end it copies
// only the other ranks' shares out of the result area (half the vector at
// np=2, three quarters at np=4), not the whole vector.
//
// Measured (8 MiB of float64, np=2, one job alternating blocks of 20
// calls of each form, per-call p50 over 120 calls, largest over the
// ranks; four jobs each, alternated with main's, machine load 7.3):
// AllreduceSliceInto 3.11-3.68 ms -> 2.32-2.88; AllreduceSlice 4.65-6.10
// -> 4.27-5.86 (a fresh result gains less: its writes are what cost, see
// hugeRuns). Where the time went before, per call at np=2 (instrumented,
// load 4-9): copy in 0.34 ms, fold 0.62-0.67, copy out 0.77 (into a kept
// out) or 1.04-1.13 (into a new result), the new result's allocation
// 0.12-0.13 (its garbage collection included; 0.01 once it overlaps the
// wait for the others). With every rank writing its share straight out:
// fold 0.69 (0.94 into a new result), copy out 0.33 (0.47). Writing the
// new result only at the end instead of while folding: AllreduceSlice
// p50 2.10-2.17 ms against 1.94-2.11 (three alternated jobs, load 6).
// Tried and dropped: copying out with plain stores in pieces (copyCached,
// 256 or 64 KiB) instead of copy's non-temporal stores: the copy into a
// new result 1.39-1.45 ms against 1.28-1.33 (one job each, load 4).
func shmPartitioned[E any](a *arena, v, out []E, op Op[E], operands, parts [][]E, mlo, mhi int) ([]E, error) {
	p, me := a.size, a.rank
	n := len(v)
	es := int(unsafe.Sizeof(*new(E)))
	segLen := a.slotBytes / es
	segments := (n + segLen - 1) / segLen
	slot := func(q int) []E { return arenaView[E](a, a.slots+q*a.slotBytes, segLen) }
	result := func(from, count int) []E { return arenaView[E](a, a.result+from*es, count) }
	// whole: the result area holds the whole result, copied out at the end.
	// Otherwise each segment's result is copied out before the next.
	whole := n*es <= a.resultBytes
	// A share folded straight into out is written there while v is still
	// being read: only where out is v itself or does not overlap it.
	direct := sameOrApart(v, out)

	first := a.steps
	for k := range segments {
		step := first + uint32(k)
		lo, hi := k*segLen, min(n, (k+1)*segLen)
		count := hi - lo
		if k > 0 {
			if whole {
				// Every rank must be done reading our slot's last segment.
				if err := a.waitAll(reducedKind, step); err != nil {
					return nil, err
				}
			}
			mlo, mhi = partBounds(count, p, me) // our share: read from v, not copied in
			copyCached(slot(me)[:mlo], v[lo:lo+mlo])
			copyCached(slot(me)[mhi:count], v[lo+mhi:hi])
			a.post(arrivedKind, step+1)
			if err := a.waitAll(arrivedKind, step+1); err != nil {
				return nil, err
			}
		}
		at := mlo
		if whole {
			at += lo
		}
		for q := range operands {
			operands[q] = slot(q)[mlo:mhi]
		}
		operands[me] = v[lo+mlo : lo+mhi]
		var also []E
		if direct {
			also = out[lo+mlo : lo+mhi]
		}
		foldBlocksTo(result(at, mhi-mlo), also, operands, parts, op, es)
		a.post(reducedKind, step+1)

		if !whole {
			if err := a.waitAll(reducedKind, step+1); err != nil {
				return nil, err
			}
			// The next segment's shares are written only after every rank
			// has posted its operand for it, hence after this copy.
			copyShares(out[lo:hi], result(0, count), mlo, mhi, direct)
		}
	}
	a.steps = first + uint32(segments)
	if whole {
		if err := a.waitAll(reducedKind, a.steps); err != nil {
			return nil, err
		}
		for k := range segments {
			lo, hi := k*segLen, min(n, (k+1)*segLen)
			slo, shi := partBounds(hi-lo, p, me)
			copyShares(out[lo:hi], result(lo, hi-lo), slo, shi, direct)
		}
	}
	return out, nil
}

// copyShares copies a segment's result from the result area into out,
// but for this rank's share [lo, hi) when it is there already (direct).
func copyShares[E any](out, result []E, lo, hi int, direct bool) {
	if !direct {
		copy(out, result)
		return
	}
	copy(out[:lo], result[:lo])
	copy(out[hi:], result[hi:])
}

// sameOrApart reports whether x and y are the same memory (the same
// start) or do not overlap.
func sameOrApart[E any](x, y []E) bool {
	if len(x) == 0 || len(y) == 0 {
		return true
	}
	es := unsafe.Sizeof(x[0])
	xs, ys := uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&y[0]))
	return xs == ys || xs+uintptr(len(x))*es <= ys || ys+uintptr(len(y))*es <= xs
}

// arenaView is count elements of E at byte offset off of the arena (E is a
// fixed-size number: the codec is raw).
func arenaView[E any](a *arena, off, count int) []E { return viewOf[E](a.mem, off, count) }

// viewOf is count elements of E (a fixed-size number) at byte offset off
// of mem.
func viewOf[E any](mem []byte, off, count int) []E {
	return unsafe.Slice((*E)(unsafe.Pointer(&mem[off])), count)
}

// foldBlocks sets dst to operands[0] op operands[1] op ... element by
// element, left to right, a block at a time so that the running result
// stays in the first-level cache while the operands are folded into it.
// parts (as long as operands) holds each block's operands for op.Fold.
func foldBlocks[E any](dst []E, operands, parts [][]E, op Op[E], es int) {
	foldBlocksTo(dst, nil, operands, parts, op, es)
}

// foldBlocksTo is foldBlocks that also copies each finished block of dst,
// still in the cache, into also (nil, or dst's length). also may be an
// operand at the same position, never at another.
func foldBlocksTo[E any](dst, also []E, operands, parts [][]E, op Op[E], es int) {
	block := max(reduceBlockBytes/es, 1)
	kernel := op.Kernel
	if kernel == nil {
		kernel = func(dst, x, y []E) {
			for i := range dst {
				dst[i] = op.Fn(x[i], y[i])
			}
		}
	}
	for b := 0; b < len(dst); b += block {
		e := min(len(dst), b+block)
		if op.Fold != nil {
			for q, o := range operands {
				parts[q] = o[b:e]
			}
			op.Fold(dst[b:e], parts...)
		} else {
			kernel(dst[b:e], operands[0][b:e], operands[1][b:e])
			for _, o := range operands[2:] {
				kernel(dst[b:e], dst[b:e], o[b:e])
			}
		}
		if also != nil {
			copy(also[b:e], dst[b:e])
		}
	}
}

// reduceBlockBytes is the block foldBlocks finishes before moving on.
const reduceBlockBytes = 16 << 10

// Call header layout (arenaHeader bytes per rank).
const (
	headerCount  = 0  // uint64: the vector's length (bytes for Bcast)
	headerAlg    = 8  // the algorithm chosen
	headerCode   = 9  // 0, or 1 + the failure's code
	headerKind   = 10 // the collective: kindAllreduce, ...
	headerPieces = 11 // Bcast: 1 if the value is posted in pieces
	// headerStamp (uint32) is the step the header was written for, stored
	// last (arena.arrive): a rank that waits for another's header polls
	// it there, in the line it reads next anyway, not its counter.
	headerStamp = 12
	// The call's Signature, and that of the rank's call through the arena
	// before it (zeros if none) without its count (prevSigLen bytes: the
	// check of the call before compares no lengths), for the mismatch
	// checks: in the header's first cache line, with the fields above, so
	// that a rank reading another's header for a small call misses the
	// cache once.
	headerSig     = 16
	headerPrevSig = headerSig + SignatureLen
	prevSigLen    = 16
	// headerTiny: a value of up to headerTinyBytes (one number) ends the
	// first line: an Allreduce of a number or a Bcast of 8 bytes reads
	// one line of each header. Without it the value's line was a second
	// miss (Allreduce 8 B at np=2, p50 unchanged by the header stamp,
	// which spared Barrier one).
	headerTiny      = headerPrevSig + prevSigLen
	headerTinyBytes = 8
	headerTextLen   = 64 // uint16: the failure's text's length
	headerText      = 66 // the failure's text, up to maxFailureText
	// A Bcast value, or a small AllreduceSlice operand, of up to
	// Arena.inlineBytes travels in the header: at headerNear when it has
	// headerNearBytes or fewer, else at headerInline.
	headerInline = 1024
	// headerNear: a value of up to headerNearBytes goes in the header's
	// second 64-byte line, where a failure's text would go (a call that
	// fails carries no value), so that a rank reading another's header
	// for a small call reads the 128 bytes the counters' Line spans (one
	// miss, the adjacent line prefetched), not a third line 1 KiB away.
	headerNear      = headerTextLen
	headerNearBytes = 64
)

// inlineAt is where a value of count bytes travels in a header.
func inlineAt(count int) int {
	if count <= headerTinyBytes {
		return headerTiny
	}
	if count <= headerNearBytes {
		return headerNear
	}
	return headerInline
}

// Collectives that go through the arena, named in headers so that ranks
// calling different ones find out instead of reading each other's data.
const (
	kindAllreduce = 1 + iota
	kindBcast
	kindBarrier
)

func kindName(k byte) string {
	switch k {
	case kindAllreduce:
		return "AllreduceSlice"
	case kindBcast:
		return "Bcast"
	case kindBarrier:
		return "Barrier"
	case kindGather, kindAllgather, kindAlltoall:
		return exchangeKindName(k)
	}
	return fmt.Sprintf("no collective known (%d)", k)
}

// headerMismatch compares rank q's header, published for this call, with
// this rank's call (lengths too when withCount), and returns the mismatch.
func (a *arena) headerMismatch(q int, withCount bool) *failure {
	h := a.header(q)
	if q == a.rank || bytes.Equal(h[headerSig:headerSig+SignatureLen], a.sigBytes[:]) {
		return nil // the same call (the usual case: no decoding)
	}
	theirs, ok := ParseSignature(h[headerSig:])
	if !ok {
		return localFailure(a.name(a.rank), failf(ErrProtocol, "rank %d is in %s, this rank in %s", a.name(q), kindName(h[headerKind]), a.sig.Kind))
	}
	mine := a.sig
	if !withCount {
		mine.Count, theirs.Count = -1, -1
	}
	if theirs.Seq != mine.Seq || !mine.Matches(theirs) {
		return localFailure(a.name(a.rank), Mismatch(a.name(a.rank), a.sig, a.name(q), theirs))
	}
	return nil
}

// previousMismatch compares every rank's previous call through the arena,
// as its header for this call says, with this rank's: a call in which the
// ranks only read the root's header (a Bcast) cannot find that two ranks
// were roots, but the next call that reads every header does. Every rank
// of the call finds the same. A previous call that read every header and
// found them all its own (lastMatchedAll) was the same call on every rank,
// each of which found the same: there is nothing to compare (a Barrier or
// an Allreduce of one number after another: about 40 ns of a call's 450
// at np=2 on a 2-core AMD EPYC VM, bytes.Equal on a line each).
func (a *arena) previousMismatch() *failure {
	if a.lastSig.Kind == 0 || a.lastMatchedAll {
		return nil
	}
	mineBytes := a.header(a.rank)[headerPrevSig : headerPrevSig+prevSigLen]
	for q := range a.size {
		h := a.header(q)
		if q == a.rank || bytes.Equal(h[headerPrevSig:headerPrevSig+prevSigLen], mineBytes) {
			continue
		}
		var full [SignatureLen]byte // the count's bytes zero: not compared
		copy(full[:], h[headerPrevSig:headerPrevSig+prevSigLen])
		theirs, ok := ParseSignature(full[:])
		if !ok || theirs.Seq != a.lastSig.Seq {
			continue
		}
		mine := a.lastSig
		mine.Count, theirs.Count = -1, -1
		if !mine.Matches(theirs) {
			m := Mismatch(a.name(a.rank), a.lastSig, a.name(q), theirs).(*mismatchError)
			m.text += " (in the collective call before this one)"
			return localFailure(a.name(a.rank), m)
		}
	}
	return nil
}

// headerFailure is the failure rank q published in its header h.
func headerFailure(q int, h []byte) *failure {
	n := int(binary.LittleEndian.Uint16(h[headerTextLen:]))
	return &failure{rank: q, code: h[headerCode] - 1, msg: string(h[headerText : headerText+min(n, maxFailureText)])}
}

// header is rank's header in the current call's set.
func (a *arena) header(rank int) []byte { return a.headerOf(a.calls, rank) }

// headerOf is rank's header in the set of call number call.
func (a *arena) headerOf(call uint32, rank int) []byte {
	off := shmcoll.HeadersAt(a.size) + (int(call%arenaHeaderSets)*a.size+rank)*arenaHeader
	return a.mem[off : off+arenaHeader]
}

// writeHeader publishes this rank's call header; post makes it visible.
func (a *arena) writeHeader(kind byte, count int, alg algorithm, own *failure) {
	h := a.header(a.rank)
	h[headerKind] = kind
	binary.LittleEndian.PutUint64(h[headerCount:], uint64(count))
	h[headerAlg] = byte(alg)
	h[headerCode] = 0
	h[headerPieces] = 0
	copy(h[headerSig:], a.sigBytes[:])
	copy(h[headerPrevSig:headerPrevSig+prevSigLen], a.lastSigBytes[:prevSigLen])
	if own != nil {
		h[headerCode] = 1 + own.code
		n := copy(h[headerText:], own.msg[:min(len(own.msg), maxFailureText)])
		binary.LittleEndian.PutUint16(h[headerTextLen:], uint16(n))
	}
}

// agree reads every rank's header and returns the failure of the call,
// the same on every rank: the lowest rank's own failure, else a length
// or algorithm that differs from rank 0's.
func (a *arena) agree(count int, alg algorithm, own *failure) *failure {
	for q := range a.size {
		h := a.header(q)
		if h[headerCode] != 0 {
			if q == a.rank {
				return own
			}
			return headerFailure(a.name(q), h)
		}
		if f := a.headerMismatch(q, false); f != nil {
			return f
		}
	}
	if f := a.previousMismatch(); f != nil {
		return f
	}
	a.matchedAll = true
	h0 := a.header(0)
	n0, alg0 := int(binary.LittleEndian.Uint64(h0[headerCount:])), algorithm(h0[headerAlg])
	for q := 1; q < a.size; q++ {
		h := a.header(q)
		if n := int(binary.LittleEndian.Uint64(h[headerCount:])); n != n0 {
			s0, sq := a.sig, a.sig
			s0.Count, sq.Count = n0, n
			return localFailure(a.name(a.rank), Mismatch(a.name(0), s0, a.name(q), sq))
		}
		if alg := algorithm(h[headerAlg]); alg != alg0 {
			return localFailure(a.name(a.rank), failf(ErrAlgorithm, "rank %d chose %s, rank %d chose %s (is GORUN_COLL_* the same everywhere?)", a.name(0), alg0, a.name(q), alg))
		}
	}
	return nil
}

// copyCached is copy in pieces under a mebibyte: the runtime copies larger
// blocks with non-temporal stores, which send them to memory, past the
// caches that the other ranks are about to read them from.
func copyCached[E any](dst, src []E) {
	piece := max(cachedCopyBytes/int(unsafe.Sizeof(*new(E))), 1)
	for len(src) > 0 {
		n := copy(dst, src[:min(piece, len(src))])
		dst, src = dst[n:], src[n:]
	}
}

// cachedCopyBytes is the piece copyCached copies at a time.
const cachedCopyBytes = 256 << 10
