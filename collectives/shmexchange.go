package collectives

import (
	"encoding/binary"
	"unsafe"
)

// Collectives that move blocks between ranks through the arena, named in
// call headers as those of shmallreduce.go are.
const (
	kindGather = kindBarrier + 1 + iota
	kindAllgather
	kindAlltoall
)

// exchange is one Gather, Allgather or Alltoall through the arena, as seen
// by one rank: the raw bytes it sends and where it wants what it receives.
type exchange struct {
	kind byte
	root int // kindGather: the one rank that receives
	// send is what this rank sends: its part (gather, allgather), or its
	// block for each rank (alltoall).
	send [][]byte
	// recvInto returns the memory for the bytes this rank receives from
	// each rank (lens, by rank; this rank's own entry included), laid one
	// after the other in rank order. An error is this rank's alone: it
	// keeps step with the others but copies nothing.
	recvInto func(lens []int) ([]byte, error)
	own      *failure
}

// reads reports whether rank r receives anything in x.
func (x *exchange) reads(r int) bool { return x.kind != kindGather || r == x.root }

// maxExchangeRanks is the largest group whose Alltoall block lengths fit a
// call header (a uint64 per rank after headerInline).
const maxExchangeRanks = (arenaHeader - headerInline) / 8

// shmExchange runs x through the arena, in rounds when the blocks do not
// fit the slots at once.
//
// Each rank's slot holds, in each round, the next piece of what it sends:
// its part (gather, allgather), or a piece of each of its blocks in p
// equal sub-slots (alltoall). A call takes one step for the headers, then
// one per round. Every rank first publishes its header (lengths, failure,
// signature), then copies its first piece in, and reads every other's
// header: from them each rank learns what it receives, how many rounds the
// call takes (the same number everywhere) and whether any rank failed,
// which ends the call on every rank alike. In each round the readers (the
// root of a gather; every rank otherwise) copy each writer's piece
// straight into their result as soon as that writer has posted it, and a
// writer overwrites its slot in the next round only once every reader is
// done with it. Bytes a rank sends to itself are copied from its operand
// into its result, never through the slot.
//
// Against messages each byte is copied twice, by plain loads and stores,
// the writers in parallel, and nothing is allocated. By messages, a CPU
// profile of the root of Gather 1 MiB at np=4 (bench/ops -cpuprofile)
// spent half its time receiving (single-copy pulls of the bundles, which
// the binomial tree re-frames at every level, into new buffers) and 38%
// joining the parts (a new 4 MiB slice zeroed, then copied into); each
// pairwise Alltoall step is a rendezvous and a wake-up. Means of
// back-to-back calls at np=4 on 2 cores, bench/ops, two alternated runs
// each (load 11-16, so the tails are the machine's), mean/p50/p99 in ms:
//
//	                     by messages (main)              through the arena
//	Gather 1 MiB         2.95/2.93/5.90, 2.79/2.47/10.2  1.30/1.04/6.24, 1.34/1.07/7.46
//	GatherInto 1 MiB     -                               0.81/0.73/3.14, 1.43/0.81/7.66
//	Alltoall 1 MiB       5.52/5.41/12.4, 5.03/4.77/10.6  2.88/2.85/5.87, 2.96/2.81/6.99
//	AlltoallInto 1 MiB   -                               1.60/1.57/4.09, 1.62/1.52/4.96
//	Gather 8 MiB         39.5, 35.5 (means)              GatherInto 9.4, 4.9 (two rounds)
//	Alltoall 8 MiB       74.7, 55.7                      AlltoallInto 21.1, 23.7 (four rounds)
//
// Reading each writer's piece as soon as it is posted, the header going
// first (rather than copying out once every rank had copied in), took
// GatherInto 1 MiB from 0.81-1.89 ms (four runs) to 0.63-0.73 ms (five
// runs, p99 1.3-3.3 ms), AlltoallInto 1 MiB staying at 1.6-2.1 ms. Open
// MPI 4.1 on the same machine minutes later: Gather 1 MiB 0.59-1.13 ms,
// Alltoall 1 MiB 1.32-1.60 ms (its quieter runs). By messages, the same
// GatherInto and AlltoallInto took 3.2-3.4 and 5.7-7.0 ms
// (GORUN_COLL_GATHER=linear, GORUN_COLL_ALLTOALL=pairwise, load 30).
//
// Tried and dropped: an Alltoall of blocks of 64 KiB or more reading each
// block straight from its sender's memory (process_vm_readv, as the
// messages' large bodies are pulled: one copy instead of two, each rank
// offering its block addresses in its header, every rank falling back to
// the slots when any read was refused, and every rank waiting until all
// had read before returning). Alternated with this code at np=4 (three
// runs each, load 23-28), AlltoallInto 1 MiB took 2.14, 1.87, 3.65 ms
// against 2.13, 1.72, 1.81 ms through the slots, and 8 MiB 22.8, 20.9,
// 27.2 ms against 24.0, 22.2, 34.9 ms: no gain that stands out of the
// noise for a protocol with a fallback and a final wait for the slowest
// reader, so the slots stay the one path (commits "a large AlltoallInto
// through shared memory reads each block straight from its sender's
// memory" and its revert on branch h-into).
func shmExchange(a *arena, op string, sig Signature, check CallConn, x *exchange) error {
	_, err := inArena(a, op, -1, sig, check, func() (struct{}, error) {
		return struct{}{}, shmExchangeLocked(a, x)
	})
	return err
}

func shmExchangeLocked(a *arena, x *exchange) error {
	p, me := a.size, a.rank
	// sub is the piece of each block a round moves.
	sub := a.slotBytes
	if x.kind == kindAlltoall {
		sub = (a.slotBytes / p) &^ (arenaLine - 1)
	}
	total := 0
	for _, b := range x.send {
		total += len(b)
	}
	a.long = total >= longCallBytes
	writes := x.own == nil && !(x.kind == kindGather && me == x.root)
	writeRound := func(k int) {
		slot := a.mem[a.slots+me*a.slotBytes : a.slots+(me+1)*a.slotBytes]
		if x.kind != kindAlltoall {
			b := x.send[0]
			lo := min(k*sub, len(b))
			copyCached(slot, b[lo:min(lo+sub, len(b))])
			return
		}
		for j, b := range x.send {
			if j != me {
				lo := min(k*sub, len(b))
				copyCached(slot[j*sub:], b[lo:min(lo+sub, len(b))])
			}
		}
	}
	// The header first (its set is free once every rank is done with the
	// call before last), so that the others can read it while this rank
	// copies its first piece in (its slot is free once every rank is done
	// with the last call).
	if err := a.waitAll(reducedKind, a.doneBefore(false)); err != nil {
		return err
	}
	first := a.steps
	a.writeHeader(x.kind, total, algShm, x.own)
	if x.kind == kindAlltoall && x.own == nil {
		h := a.header(me)
		for j, b := range x.send {
			binary.LittleEndian.PutUint64(h[headerInline+8*j:], uint64(len(b)))
		}
	}
	a.arrive(first + 1)
	if writes {
		if err := a.waitAll(reducedKind, first); err != nil {
			return err
		}
		writeRound(0)
	}
	a.post(arrivedKind, first+2)
	if err := a.waitArrivals(-1, first+1); err != nil {
		return err
	}
	if f := a.agreeExchange(x.own); f != nil {
		return a.endStep(first+2, f, algShm)
	}

	// What this rank receives from each rank, and the rounds the largest
	// block takes.
	lens := make([]int, p)
	rounds := 1
	for q := range p {
		h := a.header(q)
		if x.kind != kindAlltoall {
			// One part, read by every reader.
			lens[q] = int(binary.LittleEndian.Uint64(h[headerCount:]))
			if x.kind != kindGather || q != x.root {
				rounds = max(rounds, (lens[q]+sub-1)/sub)
			}
			continue
		}
		for j := range p {
			n := int(binary.LittleEndian.Uint64(h[headerInline+8*j:]))
			if j == me {
				lens[q] = n
			}
			if j != q {
				rounds = max(rounds, (n+sub-1)/sub)
			}
		}
	}
	var out []byte
	var local error
	if x.reads(me) {
		out, local = x.recvInto(lens)
	}
	at := make([]int, p) // where rank q's bytes start in out
	for q := 1; q < p; q++ {
		at[q] = at[q-1] + lens[q-1]
	}
	if x.reads(me) && local == nil {
		// This rank's own bytes: straight from its operand.
		own := x.send[0]
		if x.kind == kindAlltoall {
			own = x.send[me]
		}
		copy(out[at[me]:at[me]+lens[me]], own)
	}
	off := 0 // where a reader's piece is in each slot
	if x.kind == kindAlltoall {
		off = me * sub
	}
	for k := range rounds {
		step := first + 2 + uint32(k)
		if k > 0 && writes {
			// Every reader is done with this rank's slot.
			if err := a.waitAll(reducedKind, step-1); err != nil {
				return err
			}
			writeRound(k)
		}
		if k > 0 {
			a.post(arrivedKind, step)
		}
		if x.reads(me) {
			// Each rank's piece as soon as it is there, starting after
			// this rank, so that the readers spread over the slots.
			for i := 1; i < p; i++ {
				q := (me + i) % p
				lo := min(k*sub, lens[q])
				n := min(lo+sub, lens[q]) - lo
				if n == 0 {
					continue
				}
				if err := a.waitOne(arrivedKind, q, step); err != nil {
					return err
				}
				if local == nil {
					src := a.slots + q*a.slotBytes + off
					copy(out[at[q]+lo:at[q]+lo+n], a.mem[src:src+n])
				}
			}
		}
		a.post(reducedKind, step)
	}
	a.steps = first + 1 + uint32(rounds)
	if local != nil {
		return callError{local}
	}
	return nil
}

// agreeExchange reads every rank's header for an exchange and returns the
// failure of the call, the same on every rank: the lowest rank's own
// failure, else a mismatch of the calls (lengths included, where both
// calls fix one).
func (a *arena) agreeExchange(own *failure) *failure {
	for q := range a.size {
		h := a.header(q)
		if h[headerCode] != 0 {
			if q == a.rank {
				return own
			}
			return headerFailure(q, h)
		}
		if f := a.headerMismatch(q, true); f != nil {
			return f
		}
	}
	f := a.previousMismatch()
	a.matchedAll = f == nil
	return f
}

// bytesOf is the memory of s (of fixed-size numbers) as bytes.
func bytesOf[E any](s []E) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(s[0])))
}

// exchangeArena is c's arena when a raw slice exchange of kind coll can go
// through it (GORUN_COLL_<coll> may force messages), else nil.
func exchangeArena[E any](c Conn, codec Codec[[]E], coll string) (*arena, error) {
	if !isRaw(codec) || c.Size() < 2 || c.Size() > maxExchangeRanks {
		return nil, nil
	}
	a := arenaOf(c)
	if a == nil {
		return nil, nil
	}
	alg, err := a.choose(coll)
	if err != nil {
		return nil, err
	}
	if alg != algShm {
		return nil, nil
	}
	return a, nil
}

// wantLen is the error of a rank whose buffer has the wrong length.
func wantLen(what string, got, want int, why string) error {
	return failf(ErrLengthMismatch, "%s has %d elements, want %d (%s)", what, got, want, why)
}

// exchangeKindName names the exchanges' header kinds (kindName).
func exchangeKindName(k byte) string {
	switch k {
	case kindGather:
		return "Gather"
	case kindAllgather:
		return "Allgather"
	}
	return "Alltoall"
}
