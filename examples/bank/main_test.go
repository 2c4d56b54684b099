package main

import (
	"fmt"
	"testing"

	"github.com/gorun-mpi/gorun/examples/internal/runexample"
)

func TestMain(m *testing.M) { runexample.Main(m) }

func TestBankBalanceIsAlwaysRight(t *testing.T) {
	for _, tc := range []struct{ np, n int }{{1, 10}, {3, 2000}, {5, 1000}} {
		t.Run(fmt.Sprintf("np=%d", tc.np), func(t *testing.T) {
			res := runexample.MustSucceed(t, runexample.Options{NP: tc.np, Args: []string{"-n", fmt.Sprint(tc.n)}})
			// Client r's net effect is n*r.
			want := initialBalance
			for r := 1; r < tc.np; r++ {
				want += tc.n * r
			}
			line := fmt.Sprintf("bank: %d transactions from %d clients, final balance %d\n", 2*tc.n*(tc.np-1), tc.np-1, want)
			if res.Stdout != line {
				t.Errorf("got %q, want %q", res.Stdout, line)
			}
		})
	}
}
