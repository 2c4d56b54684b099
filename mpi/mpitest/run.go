package mpitest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/ranks"
	"github.com/gorun-mpi/gorun/mpi"
)

// Run runs body on n ranks, each on its own goroutine with its own world
// communicator, and returns when every rank has finished. body's t belongs
// to its rank: t.Error and t.Fatal fail the test with a message that names
// the rank ("rank 2: ..."), and t.Fatal, t.FailNow and t.Skip end only
// that rank (its world is finalized, so peers that wait for it fail with
// mpi.ErrPeerLost rather than hang). A rank that panics fails the test
// with its stack; a rank still running after the job's time (see Timeout)
// is ended and reported with the mpi call it was blocked in. If no rank
// failed and some skipped, the test is skipped.
func Run(t testing.TB, n int, body func(t testing.TB, world *mpi.Comm), opts ...Option) {
	t.Helper()
	cfg := configure(opts)
	cfg.timeout = ranks.TimeoutFor(t, cfg.timeout)
	rts := make([]*rankT, n)
	for r := range rts {
		rts[r] = &rankT{TB: t, rank: r}
	}
	errs, err := run(n, cfg, func(rank int, world *mpi.Comm) error {
		body(rts[rank], world)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	skipped := false
	for r, err := range errs {
		switch {
		case errors.Is(err, ranks.ErrGoexit) && rts[r].Skipped():
			skipped = true
		case errors.Is(err, ranks.ErrGoexit) && rts[r].Failed():
			// t.FailNow: the failure is reported already.
		case err != nil:
			t.Errorf("rank %d: %v", r, err)
		}
	}
	if skipped && !t.Failed() {
		t.SkipNow()
	}
}

// Do runs body on n ranks as Run does, without a testing.TB: it returns
// every rank's error (body's, a panic, a hang) joined with errors.Join,
// each prefixed with its rank ("rank 1: ..."), or nil when every rank
// succeeded; errors.Is sees through them. It fails only when the job
// cannot start (a bad network, no socket directory) before any rank runs.
func Do(n int, body func(world *mpi.Comm) error, opts ...Option) error {
	cfg := configure(opts)
	errs, err := run(n, cfg, func(_ int, world *mpi.Comm) error { return body(world) })
	if err != nil {
		return err
	}
	var failed []error
	for r, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Errorf("rank %d: %w", r, err))
		}
	}
	return errors.Join(failed...)
}

// run starts the job's transports and runs its ranks.
func run(n int, cfg config, body func(rank int, world *mpi.Comm) error) ([]error, error) {
	job, err := ranks.Start(string(cfg.network), n)
	if err != nil {
		return nil, fmt.Errorf("mpitest: %w", err)
	}
	defer job.Close()
	open := func(tr comm.Transport) (*mpi.Comm, error) {
		return mpi.Init(append([]mpi.Option{mpi.WithTransport(tr)}, cfg.init...)...)
	}
	return ranks.RunWorlds(job, ranks.Limits{Timeout: cfg.timeout}, open, body), nil
}
