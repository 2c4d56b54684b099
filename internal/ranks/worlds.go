package ranks

import (
	"fmt"
	"sync"

	"github.com/gorun-mpi/gorun/comm"
)

// World is what RunWorlds needs of a rank's world; *mpi.Comm is one.
type World interface {
	Finalize() error
}

// RunWorlds runs one rank per transport of job, as Run does: each rank
// opens its world over its transport (mpi.Init with mpi.WithTransport),
// runs body, and finalizes its world, whatever body did (returned, failed,
// panicked), so that its peers' calls waiting for it end with a lost peer
// instead of hanging. A rank still running when lim.Timeout expires has its
// world finalized (lim.Stop is ignored). A Finalize error is the rank's
// error when body returned none.
func RunWorlds[W World](job *Job, lim Limits, open func(tr comm.Transport) (W, error), body func(rank int, w W) error) []error {
	n := len(job.Transports)
	var mu sync.Mutex
	worlds := make([]W, n)
	opened := make([]bool, n)
	lim.Stop = func(rank int) {
		mu.Lock()
		w, ok := worlds[rank], opened[rank]
		mu.Unlock()
		if ok {
			w.Finalize()
		}
	}
	return Run(n, lim, func(rank int) (err error) {
		w, err := open(job.Transports[rank])
		if err != nil {
			return err
		}
		mu.Lock()
		worlds[rank], opened[rank] = w, true
		mu.Unlock()
		defer func() {
			if ferr := w.Finalize(); ferr != nil && err == nil {
				err = fmt.Errorf("finalizing the world: %w", ferr)
			}
		}()
		return body(rank, w)
	})
}
