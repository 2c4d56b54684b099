package mpi

import (
	"fmt"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/ranks"
)

// The tests of package mpi run their ranks with internal/ranks, the core of
// the public harness mpi/mpitest (which they cannot import: it imports mpi).
// Tests that need no internals use mpitest itself, in package mpi_test.

// jobTimeout bounds one job of a test (ranks.TimeoutFor keeps it within
// the test binary's deadline).
const jobTimeout = 2 * time.Minute

// runRanks runs body on n ranks over the in-memory transport (or the
// network GORUN_MPITEST_NETWORK names) and fails the test with every rank's
// error. Each world is finalized after its body.
func runRanks(t *testing.T, n int, body func(c *Comm) error, opts ...Option) {
	t.Helper()
	for r, err := range runOver(t, ranks.DefaultNetwork(), n, body, opts...) {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

// runRanksUnix is runRanks over real Unix-socket transports.
func runRanksUnix(t *testing.T, n int, body func(c *Comm) error, opts ...Option) {
	t.Helper()
	for r, err := range runOver(t, ranks.Unix, n, body, opts...) {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

// runOver runs body on n ranks over network and returns each rank's error
// (a hung rank's names the call it was blocked in).
func runOver(t *testing.T, network string, n int, body func(c *Comm) error, opts ...Option) []error {
	t.Helper()
	job, err := ranks.Start(network, n)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	open := func(tr comm.Transport) (*Comm, error) {
		return Init(append([]Option{WithTransport(tr)}, opts...)...)
	}
	return ranks.RunWorlds(job, ranks.Limits{Timeout: ranks.TimeoutFor(t, jobTimeout)}, open, func(r int, c *Comm) error {
		err := body(c)
		if err != nil {
			t.Logf("rank %d failed (the others may fail because of it): %v", r, err)
		}
		return err
	})
}

func expect(cond bool, format string, args ...any) error {
	if cond {
		return nil
	}
	return fmt.Errorf(format, args...)
}
