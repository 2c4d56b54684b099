package mpi

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
)

// runRanks runs body on n ranks over the in-memory transport and fails the
// test with every rank's error. Each world is finalized after its body.
func runRanks(t *testing.T, n int, body func(c *Comm) error, opts ...Option) {
	t.Helper()
	net := comm.NewNetwork(n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			world, err := Init(append([]Option{WithTransport(net.Transport(r))}, opts...)...)
			if err != nil {
				errs[r] = err
				return
			}
			errs[r] = body(world)
			if errs[r] != nil {
				t.Logf("rank %d failed (the others may hang because of it): %v", r, errs[r])
			}
			if err := world.Finalize(); err != nil && errs[r] == nil {
				errs[r] = err
			}
		}(r)
	}
	waitGroupOrFail(t, &wg, 60*time.Second)
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

func waitGroupOrFail(t *testing.T, wg *sync.WaitGroup, limit time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("ranks still running after %v (hang)", limit)
	}
}

func expect(cond bool, format string, args ...any) error {
	if cond {
		return nil
	}
	return fmt.Errorf(format, args...)
}
