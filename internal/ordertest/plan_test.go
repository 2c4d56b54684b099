package ordertest

import (
	"reflect"
	"testing"
)

// TestPlanIsDeterministic: every rank must derive the same plan.
func TestPlanIsDeterministic(t *testing.T) {
	cfg := Config{Rounds: 4, PerRank: 8}
	for _, np := range []int{2, 3, 5, 8} {
		a, b := NewPlan(42, np, cfg), NewPlan(42, np, cfg)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("np=%d: two plans from one seed differ", np)
		}
	}
}

// TestPlanMixes checks that plans hold every kind of send, receive and
// size class the test is meant to cover, and logs how many of each.
func TestPlanMixes(t *testing.T) {
	for _, np := range []int{2, 3, 5, 8} {
		kinds := map[SendKind]int{}
		modes := map[Mode]int{}
		sizes := map[string]int{}
		early, blocking, probe := 0, 0, 0
		for seed := uint64(1); seed <= 5; seed++ {
			p := NewPlan(seed, np, Config{Rounds: 6, PerRank: 10})
			for _, m := range p.Msgs {
				kinds[m.Kind]++
				if m.Kind != Sendrecv {
					modes[p.Rounds[m.Round].Modes[m.Comm][m.Dst]]++
				}
				switch {
				case m.Size < 1024:
					sizes["tiny"]++
				case m.Size < 200<<10:
					sizes["124-132K"]++
				case m.Size < 1<<20:
					sizes["256-300K"]++
				default:
					sizes["1-2M"]++
				}
				if m.Early {
					early++
				} else if m.Blocking {
					blocking++
				}
				if m.Probe {
					probe++
				}
				if m.Src == m.Dst {
					t.Errorf("seed %d: %s goes to its sender", seed, p.Describe(m.ID))
				}
			}
		}
		t.Logf("np=%d: kinds %v, modes %v, sizes %v, early %d, late blocking %d (probed first %d)", np, kinds, modes, sizes, early, blocking, probe)
		for _, k := range []SendKind{Isend, Send, Ssend, Sendrecv} {
			if kinds[k] == 0 {
				t.Errorf("np=%d: no %s in 5 plans", np, k)
			}
		}
		if len(modes) != 4 || len(sizes) != 4 || early == 0 || blocking == 0 || probe == 0 {
			t.Errorf("np=%d: modes %v sizes %v early %d blocking %d probe %d", np, modes, sizes, early, blocking, probe)
		}
	}
}
