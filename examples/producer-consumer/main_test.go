package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/examples/internal/runexample"
)

func TestMain(m *testing.M) { runexample.Main(m) }

func TestProducerConsumer(t *testing.T) {
	for _, tc := range []struct{ np, n int }{{2, 5}, {4, 50}, {6, 20}} {
		t.Run(fmt.Sprintf("np=%d", tc.np), func(t *testing.T) {
			res := runexample.MustSucceed(t, runexample.Options{NP: tc.np, Args: []string{"-n", fmt.Sprint(tc.n)}})
			sum := 0
			for p := 1; p < tc.np; p++ {
				for seq := 1; seq <= tc.n; seq++ {
					sum += p*100 + seq
				}
				// "done" comes after the producer's last item.
				if want := fmt.Sprintf("consumer: producer %d is done after %d items\n", p, tc.n); !strings.Contains(res.Stdout, want) {
					t.Errorf("missing %q in:\n%s", want, res.Stdout)
				}
			}
			want := fmt.Sprintf("consumer: %d items from %d producers, sum of values %d\n", tc.n*(tc.np-1), tc.np-1, sum)
			if !strings.HasSuffix(res.Stdout, want) {
				t.Errorf("want the last line %q in:\n%s", want, res.Stdout)
			}
		})
	}
	res := runexample.Run(t, runexample.Options{NP: 1})
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "needs a consumer and at least one producer") {
		t.Errorf("np=1: exit %d, stderr %q: want a failure explaining why", res.ExitCode, res.Stderr)
	}
}
