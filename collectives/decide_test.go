package collectives

import (
	"errors"
	"strings"
	"testing"
)

func TestChooseTable(t *testing.T) {
	for _, tc := range []struct {
		coll         string
		ranks, bytes int
		want         algorithm
	}{
		{"Bcast", 4, 8, algBinomial},
		{"Bcast", 2, 8 << 20, algBinomial},
		{"Bcast", 4, 8 << 20, algBinomial},
		{"Bcast", 16, 1 << 20, algScatterAllgather},
		{"Bcast", 16, 1<<20 - 1, algBinomial},
		{"Allreduce", 4, 8, algRecursiveDoubling},
		{"Allreduce", 4, 8 << 20, algRing},
		{"Allreduce", 2, 8 << 20, algRing},
		{"Allreduce", 3, 64 << 10, algRing},
		{"Allreduce", 3, 64<<10 - 1, algRecursiveDoubling},
		{"Allgather", 5, 0, algRecursiveDoubling},
		{"Barrier", 64, 0, algDissemination},
	} {
		got, err := choose(tc.coll, tc.ranks, tc.bytes)
		if err != nil || got != tc.want {
			t.Errorf("choose(%s, %d ranks, %d bytes) = %v, %v; want %v", tc.coll, tc.ranks, tc.bytes, got, err, tc.want)
		}
	}
}

func TestChooseSharedMemory(t *testing.T) {
	for _, tc := range []struct {
		ranks, bytes int
		shared       bool
		want         algorithm
	}{
		{4, 8 << 20, true, algShm},
		{2, 64 << 10, true, algShm},
		{2, 8, true, algShm},
		{1, 8, true, algRecursiveDoubling},
		{4, 8 << 20, false, algRing},
	} {
		got, err := chooseShared("Allreduce", tc.ranks, tc.bytes, tc.shared)
		if err != nil || got != tc.want {
			t.Errorf("chooseShared(Allreduce, %d ranks, %d bytes, shared %v) = %v, %v; want %v",
				tc.ranks, tc.bytes, tc.shared, got, err, tc.want)
		}
	}
	// Forcing shm where there is no arena falls back to the table.
	t.Setenv("GORUN_COLL_ALLREDUCE", "shm")
	if got, err := chooseShared("Allreduce", 4, 8<<20, false); err != nil || got != algRing {
		t.Errorf("forced shm without an arena: got %v, %v; want ring", got, err)
	}
	if got, err := chooseShared("Allreduce", 4, 8, true); err != nil || got != algShm {
		t.Errorf("forced shm with an arena: got %v, %v; want shm", got, err)
	}
}

func TestChooseOverride(t *testing.T) {
	t.Setenv("GORUN_COLL_ALLREDUCE", " Ring ")
	if got, err := choose("Allreduce", 2, 8); err != nil || got != algRing {
		t.Errorf("forced ring: got %v, %v", got, err)
	}
	t.Setenv("GORUN_COLL_BCAST", "chain")
	_, err := choose("Bcast", 4, 8)
	if !errors.Is(err, ErrAlgorithm) || !strings.Contains(err.Error(), "binomial, scatter_allgather") ||
		!strings.Contains(err.Error(), "GORUN_COLL_BCAST") {
		t.Errorf("unknown name: got %v, want ErrAlgorithm naming the variable and the valid choices", err)
	}
	if _, err := choose("Frobnicate", 4, 8); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("unknown collective: got %v", err)
	}
}

func TestAlgorithmsListsEveryVariable(t *testing.T) {
	algs := Algorithms()
	if got := strings.Join(algs["GORUN_COLL_ALLREDUCE"], ","); got != "recursive_doubling,ring,rabenseifner,shm" {
		t.Errorf("GORUN_COLL_ALLREDUCE choices %q", got)
	}
	if len(algs) != len(policies) {
		t.Errorf("%d variables listed, %d policies", len(algs), len(policies))
	}
}

// TestSharedChoiceIgnoresSize: for ranks that share an arena, every
// policy's choice is the same whatever the size of the call, with and
// without an algorithm forced, as the arena's cached choices (arena.choose)
// assume. It fails when a rule for shared memory starts looking at sizes.
func TestSharedChoiceIgnoresSize(t *testing.T) {
	for coll, pol := range policies {
		for _, forced := range append([]string{""}, Algorithms()[pol.env]...) {
			t.Setenv(pol.env, forced)
			for ranks := 1; ranks <= 20; ranks++ {
				want, wantErr := chooseShared(coll, ranks, 0, true)
				for _, bytes := range []int{1, 8, 64 << 10, 1 << 20, 1 << 30} {
					got, err := chooseShared(coll, ranks, bytes, true)
					if got != want || (err == nil) != (wantErr == nil) {
						t.Errorf("%s=%q, %s on %d ranks: %d bytes chose %v (%v), 0 bytes %v (%v)", pol.env, forced, coll, ranks, bytes, got, err, want, wantErr)
					}
				}
				if ranks > 1 {
					a := &arena{size: ranks, choices: sharedChoices(ranks)}
					if got, err := a.choose(coll); got != want || (err == nil) != (wantErr == nil) {
						t.Errorf("%s=%q, %s on %d ranks: the arena chose %v (%v), the table %v (%v)", pol.env, forced, coll, ranks, got, err, want, wantErr)
					}
				}
			}
		}
	}
}
