package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/examples/internal/runexample"
)

func TestMain(m *testing.M) { runexample.Main(m) }

func TestPoolMap(t *testing.T) {
	if res := runexample.MustSucceed(t, runexample.Options{NP: 3}); !strings.Contains(res.Stdout, "map(square, [1 2 3 4 5]) = [1 4 9 16 25]\n") {
		t.Errorf("np=3: want the squares of [1 2 3 4 5]:\n%s", res.Stdout)
	}
	// More ranks than items: some ranks get nothing, the answer is the same.
	res := runexample.MustSucceed(t, runexample.Options{NP: 7})
	if !strings.Contains(res.Stdout, "map(square, [1 2 3 4 5]) = [1 4 9 16 25]\n") {
		t.Errorf("np=7: want the squares of [1 2 3 4 5]:\n%s", res.Stdout)
	}
	if got := strings.Count(res.Stdout, "squared [] -> []"); got != 2 {
		t.Errorf("np=7: %d ranks got nothing, want 2:\n%s", got, res.Stdout)
	}
	// Parts differ by at most one, longer first: 11 items on 4 ranks = 3,3,3,2.
	res = runexample.MustSucceed(t, runexample.Options{NP: 4, Args: []string{"-n", "11"}})
	for r, want := range []string{"[1 2 3]", "[4 5 6]", "[7 8 9]", "[10 11]"} {
		if !strings.Contains(res.Stdout, fmt.Sprintf("rank %d squared %s", r, want)) {
			t.Errorf("rank %d did not get %s:\n%s", r, want, res.Stdout)
		}
	}
	if !regexp.MustCompile(`= \[1 4 9 16 25 36 49 64 81 100 121\]`).MatchString(res.Stdout) {
		t.Errorf("want the squares of 1..11:\n%s", res.Stdout)
	}
}
