package collectives

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// shmBcast is Bcast through the arena. The root encodes the value, copies
// it into its slot when it fits, and publishes a header (size, algorithm,
// failure); the others wait for the root alone, copy the value out and
// decode it. A value larger than a slot, or an algorithm forced by
// GORUN_COLL_BCAST, goes by messages instead: the header says so, and every
// rank returns errUseMessages. One wait per call, on the root only.
func shmBcast[T any](a *Arena, codec Codec[T], v T, root int) (T, error) {
	return inArena(a, fmt.Sprintf("Bcast(root %d)", root), func() (T, error) {
		return shmBcastLocked(a, codec, v, root)
	})
}

func shmBcastLocked[T any](a *Arena, codec Codec[T], v T, root int) (T, error) {
	var zero T
	p, me := a.size, a.rank
	if err := a.waitAll(reducedKind, a.steps); err != nil {
		return zero, err
	}
	step := a.steps + 1
	slot := a.mem[a.slots+root*a.slotBytes : a.slots+(root+1)*a.slotBytes]
	if me == root {
		payload, err := codec.Encode(v)
		var f *failure
		alg := algShm
		if err != nil {
			f = localFailure(me, fmt.Errorf("encoding the broadcast value: %w", err))
		} else if alg, err = chooseShared("Bcast", p, len(payload), true); err != nil {
			f = localFailure(me, err)
		} else if alg == algShm && len(payload) > len(slot) {
			alg = tableChoice(policies["Bcast"], p, len(payload), false)
		}
		if f == nil && alg == algShm {
			copyCached(slot[:len(payload)], payload)
		}
		a.writeHeader(kindBcast, len(payload), alg, f)
		a.post(arrivedKind, step)
		if err := a.endStep(step, f, alg); err != nil {
			return zero, err
		}
		return v, nil
	}
	if err := a.waitOne(arrivedKind, root, step); err != nil {
		return zero, err
	}
	h := a.header(root)
	count := int(binary.LittleEndian.Uint64(h[headerCount:]))
	alg := algorithm(h[headerAlg])
	var body []byte
	var f *failure
	switch {
	case h[headerCode] != 0:
		f = headerFailure(root, h)
	case h[headerKind] != kindBcast:
		f = localFailure(me, fmt.Errorf("%w: rank %d (the root) is in %s, this rank in Bcast", ErrProtocol, root, kindName(h[headerKind])))
	case alg == algShm && count > len(slot):
		f = localFailure(me, fmt.Errorf("%w: broadcast of %d bytes announced in a slot of %d", ErrProtocol, count, len(slot)))
	case alg == algShm:
		body = slices.Clone(slot[:count])
	}
	// Done with the root's slot and header.
	if err := a.endStep(step, f, alg); err != nil {
		return zero, err
	}
	out, err := codec.Decode(body)
	if err != nil {
		return zero, callError{fmt.Errorf("decoding the broadcast value: %w", err)}
	}
	return out, nil
}

// endStep posts that this rank is done with step's slots and headers, and
// returns the call's outcome: f's error, errUseMessages when the ranks
// chose an algorithm other than algShm, or nil.
func (a *Arena) endStep(step uint32, f *failure, alg algorithm) error {
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
func shmBarrier(a *Arena) error {
	_, err := inArena(a, "Barrier", func() (struct{}, error) {
		if err := a.waitAll(reducedKind, a.steps); err != nil {
			return struct{}{}, err
		}
		step := a.steps + 1
		a.writeHeader(kindBarrier, 0, algShm, nil)
		a.post(arrivedKind, step)
		if err := a.waitAll(arrivedKind, step); err != nil {
			return struct{}{}, err
		}
		var f *failure
		for q := range a.size {
			if k := a.header(q)[headerKind]; k != kindBarrier && f == nil {
				f = localFailure(a.rank, fmt.Errorf("%w: rank %d is in %s, this rank in Barrier", ErrProtocol, q, kindName(k)))
			}
		}
		return struct{}{}, a.endStep(step, f, algShm)
	})
	return err
}
