package main

import (
	"strings"
)

// benchModule is the bench module's path.
const benchModule = "github.com/gorun-mpi/gorun/bench"

func containsModule(gomod string) bool {
	return strings.Contains(gomod, "module "+benchModule+"\n")
}

// config is what a run measures.
type config struct {
	name          string
	rounds        int
	pingSizes     []int
	collNPs       []int
	collSizes     map[int][]int // per np
	iterFlags     []string      // bench/ops's -budget, -miniters, -maxiters
	launches      int           // Init+Finalize jobs per implementation and round
	launchNP      int
	haversineNP   int
	haversineN    int
	perRunTimeout string
	// small: rounds more of the small messages alone, after the
	// rounds of everything (see measureSmall).
	small smallRounds
}

// smallRounds are rounds more of the rows whose calls take about a
// microsecond: the host's fast and slow modes, which last minutes, move
// their ratios most (ping-pong 8 B at 1.96, 4.21 and 1.55x Open MPI in three
// runs of three rounds, 2026-12-01), and their runs take seconds, so more
// rounds cost little and outvote a mode that held one round.
type smallRounds struct {
	rounds    int
	pingSizes []int
	collNPs   []int
	collSizes []int
}

// powersOfTwo returns lo, 2lo, 4lo, ... up to hi.
func powersOfTwo(lo, hi int) []int {
	var s []int
	for n := lo; n <= hi; n *= 2 {
		s = append(s, n)
	}
	return s
}

func fullConfig() config {
	return config{
		name:      "full",
		rounds:    3,
		pingSizes: powersOfTwo(8, 16<<20),
		collNPs:   []int{2, 4, 8},
		collSizes: map[int][]int{
			2: {8, 8 << 10, 1 << 20, 8 << 20},
			4: {8, 8 << 10, 1 << 20, 8 << 20},
			8: {8, 8 << 10, 1 << 20},
		},
		// Up to 10000 calls a loop: a loop of 1000 calls of under a
		// microsecond lasts half a millisecond, too short for its mean to
		// include the tails a program meets (its 8 B ping-pong mean moved
		// between 0.60 and 0.86 us from run to run). At least 20 calls:
		// issue 17 measured its 8 MiB collectives over 20 back-to-back
		// calls, and with 10 a single slow call is a tenth of the mean.
		iterFlags:     []string{"-budget", "67108864", "-miniters", "20", "-maxiters", "10000"},
		launches:      5,
		launchNP:      4,
		haversineNP:   4,
		haversineN:    8_000_000,
		perRunTimeout: "5m",
		small: smallRounds{
			rounds:    6,
			pingSizes: powersOfTwo(8, 64<<10),
			collNPs:   []int{2, 4},
			collSizes: []int{8},
		},
	}
}

func quickConfig() config {
	return config{
		name:      "quick",
		rounds:    2,
		pingSizes: []int{8, 512, 64 << 10, 1 << 20, 16 << 20},
		collNPs:   []int{2, 4},
		collSizes: map[int][]int{
			2: {8, 8 << 10, 1 << 20},
			4: {8, 8 << 10, 1 << 20},
		},
		iterFlags:     []string{"-budget", "8388608", "-miniters", "5", "-maxiters", "100"},
		launches:      2,
		launchNP:      4,
		haversineNP:   4,
		haversineN:    800_000,
		perRunTimeout: "2m",
	}
}

// sizesFlag is sizes as bench/ops's -sizes.
func sizesFlag(sizes []int) string {
	s := make([]string, len(sizes))
	for i, n := range sizes {
		s[i] = itoa(n)
	}
	return strings.Join(s, ",")
}
