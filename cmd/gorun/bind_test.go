package main

import (
	"errors"
	"fmt"
	"testing"
)

func TestCPUShares(t *testing.T) {
	for _, tc := range []struct {
		cpus       []int
		np, offset int
		want       string
	}{
		{[]int{0, 1}, 4, 0, "[[0] [1] [0] [1]]"},
		{[]int{0, 1}, 4, 1, "[[1] [0] [1] [0]]"},
		{[]int{0, 1, 2, 3}, 2, 0, "[[0 1] [2 3]]"},
		{[]int{0, 1, 2, 3}, 3, 0, "[[0] [1] [2 3]]"},
		{[]int{2, 5, 7}, 5, 2, "[[7] [2] [5] [7] [2]]"},
		{[]int{0, 1, 2, 3, 4, 5, 6, 7}, 8, 3, "[[3] [4] [5] [6] [7] [0] [1] [2]]"},
		{[]int{0}, 4, 0, "[]"},    // one CPU: nothing to bind
		{[]int{0, 1}, 1, 0, "[]"}, // one rank keeps every CPU
	} {
		if got := fmt.Sprint(cpuShares(tc.cpus, tc.np, tc.offset)); got != tc.want {
			t.Errorf("cpuShares(%v, np %d, offset %d) = %s, want %s", tc.cpus, tc.np, tc.offset, got, tc.want)
		}
	}
}

func TestBindToFlag(t *testing.T) {
	cfg, err := parseFlags([]string{"-np", "2", "prog"}, func(string) string { return "" })
	if err != nil || cfg.bindTo != bindCore {
		t.Fatalf("default: bind-to %q, %v; want core", cfg.bindTo, err)
	}
	cfg, err = parseFlags([]string{"-np", "2", "--bind-to", "none", "prog"}, func(string) string { return "" })
	if err != nil || cfg.bindTo != bindNone {
		t.Fatalf("--bind-to none: %q, %v", cfg.bindTo, err)
	}
	if _, err := parseFlags([]string{"-np", "2", "--bind-to", "socket", "prog"}, func(string) string { return "" }); !errors.Is(err, errUsage) {
		t.Fatalf("--bind-to socket: %v, want a usage error", err)
	}
}
