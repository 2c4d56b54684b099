package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/gorun-mpi/gorun/internal/shm"
	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// hostMemory is the shared memory that whoever starts a host's ranks (the
// launcher for a local job, an agent for its ranks of a job over several
// hosts) makes for the collectives of the ranks it starts: one memory file
// per host of the placement among them, sized for that host's ranks, which
// become each rank's descriptor 3 (jobenv.Shm). The ranks of a host index
// it by their place among that host's ranks (jobenv.HostRanks); a host
// with one rank gets none. A launcher under a simulated placement
// (GORUN_TEST_PLACEMENT) makes one per simulated host.
type hostMemory struct {
	byRank map[int]*os.File
	files  []*os.File
}

// newHostMemory makes the memory of ranks, placed on hosts by placement
// (nil: all on one host). Where it cannot be made (no memfd on this
// system), those ranks run without it, using messages alone, and warn
// hears why unless the system simply has none.
func newHostMemory(name string, ranks, placement []int, warn func(string)) hostMemory {
	m := hostMemory{byRank: map[int]*os.File{}}
	groups := map[int][]int{}
	var order []int
	for _, r := range ranks {
		h := 0
		if placement != nil {
			h = placement[r]
		}
		if _, ok := groups[h]; !ok {
			order = append(order, h)
		}
		groups[h] = append(groups[h], r)
	}
	for _, h := range order {
		group := groups[h]
		if len(group) < 2 {
			continue
		}
		f, err := shm.Create(fmt.Sprintf("%s-host%d", name, h), int64(shmcoll.Size(len(group))))
		if err != nil {
			if !errors.Is(err, shm.ErrUnsupported) {
				warn(fmt.Sprintf("gorun: no shared memory for collectives (using messages): %v", err))
			}
			continue
		}
		m.files = append(m.files, f)
		for _, r := range group {
			m.byRank[r] = f
		}
	}
	return m
}

// of is rank's memory file, or nil.
func (m hostMemory) of(rank int) *os.File { return m.byRank[rank] }

// close closes this process's copies once the ranks hold theirs.
func (m hostMemory) close() {
	for _, f := range m.files {
		f.Close()
	}
}
