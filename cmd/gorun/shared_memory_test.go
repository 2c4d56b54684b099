package main

import (
	"errors"
	"testing"

	"github.com/gorun-mpi/gorun/internal/shm"
	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// TestHostMemory: one memory file per host of the placement among the
// ranks given, sized for that host's ranks, shared by them; none for a
// host with one rank; one for all when there is no placement.
func TestHostMemory(t *testing.T) {
	if f, err := shm.Create("probe", 1); errors.Is(err, shm.ErrUnsupported) {
		t.Skip("no memfd on this system")
	} else if err == nil {
		f.Close()
	}
	warn := func(line string) { t.Error(line) }
	m := newHostMemory("test", []int{0, 1, 2, 3, 4, 5}, []int{1, 0, 1, 2, 1, 0}, warn)
	defer m.close()
	if m.of(3) != nil {
		t.Error("a host with one rank got shared memory")
	}
	for _, group := range [][]int{{0, 2, 4}, {1, 5}} {
		f := m.of(group[0])
		if f == nil {
			t.Fatalf("rank %d got no shared memory", group[0])
		}
		info, err := f.Stat()
		if err != nil || info.Size() != int64(shmcoll.Size(len(group))) {
			t.Errorf("ranks %v: a file of %v bytes (%v), want %d", group, info.Size(), err, shmcoll.Size(len(group)))
		}
		for _, r := range group {
			if m.of(r) != f {
				t.Errorf("rank %d does not share rank %d's memory", r, group[0])
			}
		}
	}
	if m.of(0) == m.of(1) {
		t.Error("two hosts share one memory")
	}

	agent := newHostMemory("test", []int{1, 3}, []int{0, 1, 0, 1}, warn) // an agent's ranks
	defer agent.close()
	if agent.of(1) == nil || agent.of(1) != agent.of(3) || len(agent.files) != 1 {
		t.Errorf("an agent's two ranks: %v", agent.byRank)
	}
	local := newHostMemory("test", []int{0, 1, 2}, nil, warn)
	defer local.close()
	if info, err := local.of(2).Stat(); err != nil || info.Size() != int64(shmcoll.Size(3)) {
		t.Errorf("a local job: %v, %v", info, err)
	}
}
