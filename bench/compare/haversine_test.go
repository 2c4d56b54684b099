package main

import (
	"strings"
	"testing"
)

func TestWrongHaversineTotal(t *testing.T) {
	for _, c := range []struct {
		out   string
		n     int
		wrong string // "" or a part of the message
	}{
		{"rank 0 answered 8000000 requests\ntotal_km=80086829761.237473 requests=8000000 ranks=4 seconds=0.4\n", 8_000_000, ""},
		{"total_km=801123227.465973 requests=80000 ranks=4 seconds=0.01", 80_000, ""},
		{"total_km=80086829861.240 requests=8000000 ranks=4 seconds=0.4", 8_000_000, "want 80086829761.240"},
		{"total_km=1 requests=800000 ranks=4 seconds=0.1", 800_000, ""}, // no reference for 800,000
		{"seconds=0.4", 8_000_000, "no total_km="},
		{"total_km=x seconds=0.4", 80_000, "not a number"},
	} {
		got := wrongHaversineTotal(c.out, c.n)
		if (c.wrong == "") != (got == "") || !strings.Contains(got, c.wrong) {
			t.Errorf("%q, %d requests: %q, want a message containing %q", c.out, c.n, got, c.wrong)
		}
	}
}
