package collectives

// Barrier returns once every rank of the group has entered it. It uses the
// dissemination algorithm: in round k each rank sends an empty message to
// the rank 2^k after it and waits for one from the rank 2^k before it, so
// after ceil(log2 p) rounds every rank has heard, directly or not, from
// every other.
//
// Ranks that share an arena (one host) meet there instead: each posts its
// arrival and waits for the others'.
func Barrier(c Conn) error {
	p, me := c.Size(), c.Rank()
	sig, err := begin(c, Signature{Call: Call{Kind: KindBarrier}, Root: -1, Count: -1})
	if err != nil {
		return err
	}
	a := arenaOf(c)
	var alg algorithm
	if a != nil {
		alg, err = a.choose("Barrier")
	} else {
		alg, err = choose("Barrier", p, 0)
	}
	if err != nil {
		return err
	}
	if alg == algShm {
		return shmBarrier(a, sig, checkCall(c))
	}
	for round, d := 0, 1; d < p; round, d = round+1, d*2 {
		if _, err := c.Sendrecv(nil, (me+d)%p, round, (me-d+p)%p, round); err != nil {
			return err
		}
	}
	return nil
}
