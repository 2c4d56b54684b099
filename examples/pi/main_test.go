package main

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"testing"

	"github.com/gorun-mpi/gorun/examples/internal/runexample"
)

func TestMain(m *testing.M) { runexample.Main(m) }

func TestPi(t *testing.T) {
	result := regexp.MustCompile(`pi=(\S+) error=\S+ intervals=(\d+) ranks=(\d+) seconds=`)
	partial := regexp.MustCompile(`rank \d+: (\d+) intervals, partial sum (\S+)`)
	for _, np := range []int{1, 3, 4} {
		res := runexample.MustSucceed(t, runexample.Options{NP: np, Args: []string{"-n", "1000000"}})
		m := result.FindStringSubmatch(res.Stdout)
		if m == nil || m[2] != "1000000" || m[3] != fmt.Sprint(np) {
			t.Fatalf("np=%d: no result line in:\n%s", np, res.Stdout)
		}
		pi, _ := strconv.ParseFloat(m[1], 64)
		if math.Abs(pi-math.Pi) > 1e-10 {
			t.Errorf("np=%d: pi=%v, off by %v", np, pi, math.Abs(pi-math.Pi))
		}
		// The shares cover every interval once and add up to the result.
		parts := partial.FindAllStringSubmatch(res.Stdout, -1)
		if len(parts) != np {
			t.Fatalf("np=%d: %d partial sums", np, len(parts))
		}
		intervals, sum := 0, 0.0
		for _, p := range parts {
			k, _ := strconv.Atoi(p[1])
			s, _ := strconv.ParseFloat(p[2], 64)
			intervals += k
			sum += s
		}
		if intervals != 1000000 || math.Abs(sum-pi) > 1e-9 {
			t.Errorf("np=%d: shares cover %d intervals and sum to %v, want 1000000 and %v", np, intervals, sum, pi)
		}
	}
}
