package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/examples/internal/runexample"
)

func TestMain(m *testing.M) { runexample.Main(m) }

func TestHello(t *testing.T) {
	for _, np := range []int{1, 3} {
		res := runexample.MustSucceed(t, runexample.Options{NP: np})
		var names []string
		for r := range np {
			want := fmt.Sprintf("hello from rank %d of %d (pid ", r, np)
			if strings.Count(res.Stdout, want) != 1 {
				t.Errorf("np=%d: want one %q line in:\n%s", np, want, res.Stdout)
			}
			names = append(names, fmt.Sprintf("rank%d", r))
		}
		want := fmt.Sprintf("rank 0 heard from %d ranks: %s\n", np, strings.Join(names, " "))
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("np=%d: missing %q in:\n%s", np, want, res.Stdout)
		}
	}
}
