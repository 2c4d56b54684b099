package collectives

import "unsafe"

// shmAllreduceValueLocked is Allreduce of one fixed-size number through
// the arena, with a.mu held: the steps of shmAllreduceLocked for a vector
// of one element that travels in the header (the same waits, header and
// step, so that ranks of a mismatched call still meet), without what a
// vector needs: no operand views, no blocks, no Fold over slices. Every
// rank folds the p values left to right with op.Fn, in rank order, so
// the result has the same bits everywhere and the same as a Fold's.
//
// Measured against the vector path (shmAllreduceLocked with a scratch
// element: operand views, foldBlocks, a deferred clear), Allreduce of one
// float64 Sum at np=2 on a 2-core AMD EPYC VM: a loop of 500,000 calls
// with no clock read per call, six alternated jobs, 0.412-0.426 -> 0.315-
// 0.322 us a call; bench/ops allreduce_value, 12 rounds alternated in
// order swapped per round, mean 0.825 -> 0.637 us (-22%, lower in 12 of
// 12), p50 -24%; Barrier in the same rounds unchanged. A profile of the
// vector path had foldBlocksTo, the Fold's closure, the operand views'
// clearing (with write barriers) at about 0.1 us of a call's 0.78.
func shmAllreduceValueLocked[E any](a *arena, v E, op Op[E], alg algorithm, own *failure) (E, error) {
	var zero E
	es := int(unsafe.Sizeof(v))
	moveData := alg == algShm && own == nil
	// Every rank must be done with the header set this call reuses.
	if err := a.waitAll(reducedKind, a.doneBefore(false)); err != nil {
		return zero, err
	}
	if reached(a.calls, a.claimedTo) {
		a.claimAhead()
	}
	step := a.steps + 1
	value := func(q int) *E { return &viewOf[E](a.header(q), inlineAt(es), 1)[0] }
	if moveData {
		*value(a.rank) = v
	}
	a.writeHeader(kindAllreduce, 1, alg, own)
	a.arrive(step)
	if err := a.waitArrivals(-1, step); err != nil {
		return zero, err
	}
	if f := a.agree(1, alg, own); f != nil || !moveData {
		return zero, a.endStep(step, prefer(f, own), alg)
	}
	acc := *value(0)
	for q := 1; q < a.size; q++ {
		acc = op.Fn(acc, *value(q))
	}
	return acc, a.endStep(step, nil, algShm)
}
