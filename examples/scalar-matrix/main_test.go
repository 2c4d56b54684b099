package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/examples/internal/runexample"
)

func TestMain(m *testing.M) { runexample.Main(m) }

func TestScalarMatrix(t *testing.T) {
	for _, tc := range []struct {
		np, rows, cols int
		k              float64
		perRank        []int
	}{
		{2, 6, 4, 2.5, []int{3, 3}},
		{4, 10, 7, 3, []int{3, 3, 2, 2}},
		{5, 3, 2, -1, []int{1, 1, 1, 0, 0}}, // more ranks than rows
	} {
		t.Run(fmt.Sprintf("np=%d", tc.np), func(t *testing.T) {
			res := runexample.MustSucceed(t, runexample.Options{NP: tc.np,
				Args: []string{"-rows", strconv.Itoa(tc.rows), "-cols", strconv.Itoa(tc.cols), "-k", fmt.Sprint(tc.k)}})
			for r, n := range tc.perRank {
				if want := fmt.Sprintf("rank %d multiplied %d rows\n", r, n); !strings.Contains(res.Stdout, want) {
					t.Errorf("missing %q in:\n%s", want, res.Stdout)
				}
			}
			// The elements are 0..R*C-1, so the checksum is k*(RC)(RC-1)/2.
			n := tc.rows * tc.cols
			want := fmt.Sprintf("%dx%d matrix times %g: verified, checksum=%.1f ranks=%d seconds=", tc.rows, tc.cols, tc.k, tc.k*float64(n*(n-1)/2), tc.np)
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("missing %q in:\n%s", want, res.Stdout)
			}
		})
	}
	res := runexample.MustSucceed(t, runexample.Options{NP: 3, Args: []string{"-rows", "500", "-cols", "300"}})
	if !regexp.MustCompile(`500x300 matrix times 2.5: verified, checksum=28124812500.0 ranks=3`).MatchString(res.Stdout) {
		t.Errorf("large matrix:\n%s", res.Stdout)
	}
}
