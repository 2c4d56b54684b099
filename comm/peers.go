package comm

import "fmt"

// peerSet returns, per rank of a job of size, whether it is one of peers;
// nil peers means every rank but our own. A peer out of range, our own
// rank or a rank listed twice is an error.
func peerSet(rank, size int, peers []int) ([]bool, error) {
	set := make([]bool, size)
	if peers == nil {
		for r := range set {
			set[r] = r != rank
		}
		return set, nil
	}
	for _, p := range peers {
		switch {
		case p < 0 || p >= size:
			return nil, fmt.Errorf("peer %d outside the job's ranks [0, %d): %w", p, size, ErrBadRank)
		case p == rank:
			return nil, fmt.Errorf("rank %d lists itself as its own peer: %w", rank, ErrBadRank)
		case set[p]:
			return nil, fmt.Errorf("peer %d listed twice: %w", p, ErrBadRank)
		}
		set[p] = true
	}
	return set, nil
}
