package mpi_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/mpi"
	"github.com/gorun-mpi/gorun/mpi/mpitest"
)

// TestCollectiveErrorsAreMPIErrors: every error a collective returns, on
// the rank that made the mistake and on the ranks that learn of it, reads
// as an mpi error (never naming package collectives), is an *mpi.Error,
// and matches the mpi sentinel with errors.Is.
func TestCollectiveErrorsAreMPIErrors(t *testing.T) {
	const np = 4
	cases := []struct {
		name string
		call func(c *mpi.Comm) error
		want error
		text func(rank int) string // the whole text every rank gets, when known
	}{
		{"root out of range", func(c *mpi.Comm) error { _, err := mpi.Bcast(c, 1, 7); return err }, mpi.ErrRoot,
			func(r int) string { return fmt.Sprintf("mpi: rank %d Bcast: root 7 out of range [0, 4)", r) }},
		{"negative root", func(c *mpi.Comm) error { _, err := mpi.Scatter(c, []int{1}, -1); return err }, mpi.ErrRoot,
			func(r int) string { return fmt.Sprintf("mpi: rank %d Scatter: root -1 out of range [0, 4)", r) }},
		{"nil operator", func(c *mpi.Comm) error { _, err := mpi.Allreduce[int](c, 1, nil); return err }, mpi.ErrNilOp, nil},
		{"parts", func(c *mpi.Comm) error { _, err := mpi.Alltoall(c, [][]int{{1}}); return err }, mpi.ErrParts, nil},
		{"lengths", func(c *mpi.Comm) error {
			_, err := mpi.AllreduceSlice(c, make([]int, c.Rank()+1), mpi.Sum)
			return err
		}, mpi.ErrLengthMismatch, nil},
		{"mismatch", func(c *mpi.Comm) error {
			if c.Rank() == 1 {
				_, err := mpi.Bcast(c, 1, 0)
				return err
			}
			// Ranks whose part did not need rank 1 learn of the mismatch
			// in their next collective.
			if err := c.Barrier(); err != nil {
				return err
			}
			return c.Barrier()
		}, mpi.ErrCollectiveMismatch, nil},
	}
	for _, network := range []mpitest.Network{mpitest.InMemory, mpitest.Unix} {
		for _, tc := range cases {
			t.Run(string(network)+"/"+tc.name, func(t *testing.T) {
				mpitest.Run(t, np, func(t testing.TB, c *mpi.Comm) {
					err := tc.call(c)
					// Keep every rank in the job until all have their
					// error: a rank that finished would be a lost peer.
					defer holdUntilAllDone(t, c)
					var mpiErr *mpi.Error
					switch {
					case !errors.Is(err, tc.want):
						t.Errorf("%v, want an error matching %v", err, tc.want)
					case !errors.As(err, &mpiErr):
						t.Errorf("%v (%T), want an *mpi.Error", err, err)
					case !strings.HasPrefix(err.Error(), fmt.Sprintf("mpi: rank %d ", c.Rank())) || strings.Contains(err.Error(), "collectives"):
						t.Errorf("%q: want an mpi error that does not name package collectives", err)
					case tc.text != nil && err.Error() != tc.text(c.Rank()):
						t.Errorf("%q, want %q", err, tc.text(c.Rank()))
					}
				}, mpitest.Transport(network))
			})
		}
	}
}

// TestPeerFailedMatchesBothCauses: a rank that fails because another rank
// of the call did gets an error matching ErrPeerFailed and that rank's
// cause.
func TestPeerFailedMatchesBothCauses(t *testing.T) {
	mpitest.Run(t, 3, func(t testing.TB, c *mpi.Comm) {
		op := mpi.Sum[int]
		if c.Rank() == 0 {
			op = nil
		}
		_, err := mpi.Allreduce(c, 1, op)
		if c.Rank() != 0 && !(errors.Is(err, mpi.ErrPeerFailed) && errors.Is(err, mpi.ErrNilOp)) {
			t.Errorf("%v, want ErrPeerFailed and ErrNilOp", err)
		}
		if want := "rank 0 failed: nil operator: Allreduce needs an operator"; c.Rank() != 0 && !strings.HasSuffix(fmt.Sprint(err), want) {
			t.Errorf("%v, want it to end with %q", err, want)
		}
	})
}

// holdUntilAllDone returns once every rank of c has called it, by point to
// point messages (the collectives of c may be broken).
func holdUntilAllDone(t testing.TB, c *mpi.Comm) {
	const tag = 999
	var token int
	if c.Rank() != 0 {
		if err := c.Send(0, 0, tag); err != nil {
			t.Error(err)
		}
		if _, err := c.Recv(&token, 0, tag); err != nil {
			t.Error(err)
		}
		return
	}
	for range c.Size() - 1 {
		if _, err := c.Recv(&token, mpi.AnySource, tag); err != nil {
			t.Error(err)
		}
	}
	for q := 1; q < c.Size(); q++ {
		if err := c.Send(0, q, tag); err != nil {
			t.Error(err)
		}
	}
}
