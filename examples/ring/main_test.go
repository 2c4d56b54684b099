package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/examples/internal/runexample"
)

func TestMain(m *testing.M) { runexample.Main(m) }

func TestRing(t *testing.T) {
	for _, tc := range []struct{ np, laps int }{{1, 1}, {4, 2}, {7, 1}} {
		t.Run(fmt.Sprintf("np%d", tc.np), func(t *testing.T) {
			res := runexample.MustSucceed(t, runexample.Options{NP: tc.np, Args: []string{"-laps", fmt.Sprint(tc.laps)}})
			sumOfRanks := tc.np * (tc.np - 1) / 2
			want := fmt.Sprintf("ranks=%d laps=%d token=%d expected=%d", tc.np, tc.laps, tc.laps*sumOfRanks, tc.laps*sumOfRanks)
			if !strings.Contains(res.Stdout, want+"\n") {
				t.Errorf("missing %q in:\n%s", want, res.Stdout)
			}
			for r := 0; r < tc.np; r++ {
				line := fmt.Sprintf("rank %d: sum of all ranks = %d\n", r, sumOfRanks)
				if strings.Count(res.Stdout, line) != 1 {
					t.Errorf("want %q once in:\n%s", line, res.Stdout)
				}
			}
			// Each hop is printed by the rank that received the token:
			// rank r gets lap l's token as (l-1)*sum + 0+1+...+(r-1).
			for lap := 1; lap <= tc.laps; lap++ {
				for r := 1; r < tc.np; r++ {
					line := fmt.Sprintf("rank %d got token %d from rank %d\n", r, (lap-1)*sumOfRanks+r*(r-1)/2, r-1)
					if !strings.Contains(res.Stdout, line) {
						t.Errorf("missing %q in:\n%s", line, res.Stdout)
					}
				}
			}
		})
	}
}
