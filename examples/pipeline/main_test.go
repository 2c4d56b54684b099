package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/examples/internal/runexample"
)

func TestMain(m *testing.M) { runexample.Main(m) }

func TestPipeline(t *testing.T) {
	for _, tc := range []struct{ np, items int }{{1, 3}, {2, 5}, {4, 20}} {
		t.Run(fmt.Sprintf("np=%d", tc.np), func(t *testing.T) {
			res := runexample.MustSucceed(t, runexample.Options{NP: tc.np, Args: []string{"-items", fmt.Sprint(tc.items)}})
			// Item i leaves as i followed by the digits 1..np-1.
			sum := 0
			var order []string
			for i := 1; i <= tc.items; i++ {
				v := i
				for stage := 1; stage < tc.np; stage++ {
					v = v*10 + stage
				}
				sum += v
				order = append(order, fmt.Sprintf("sink got item %d: value %d", i, v))
			}
			lines := res.Lines()
			if len(lines) != tc.items+1 {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), tc.items+1, res.Stdout)
			}
			// The sink prints items in the order the source made them.
			if got := strings.Join(lines[:tc.items], "\n"); got != strings.Join(order, "\n") {
				t.Errorf("items:\n%s\nwant:\n%s", got, strings.Join(order, "\n"))
			}
			if want := fmt.Sprintf("sink: %d items through %d stages, sum of values %d", tc.items, tc.np, sum); lines[tc.items] != want {
				t.Errorf("last line %q, want %q", lines[tc.items], want)
			}
		})
	}
}
