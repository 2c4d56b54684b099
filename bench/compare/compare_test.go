package main

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestParseTableReadsRowsAndSkipsTheRest(t *testing.T) {
	out := `# gorun ops coll, 4 ranks; microseconds, largest over the ranks
op                    bytes   iters      mean_us  osu_mean_us       p50_us       p99_us
barrier                   0     100       31.365        9.051       14.859      123.673
allreduce_into         8192     100       18.140       26.777       12.672       74.877
a warning line from a launcher
`
	rows := parseTable(out)
	if len(rows) != 2 {
		t.Fatalf("parsed %d rows, want 2: %+v", len(rows), rows)
	}
	want := tableRow{"allreduce_into", 8192, row{100, 18.140, 26.777, 12.672, 74.877}}
	if rows[1] != want {
		t.Errorf("second row %+v, want %+v", rows[1], want)
	}
	if rows[0].op != "barrier" || rows[0].bytes != 0 || rows[0].p99 != 123.673 {
		t.Errorf("first row %+v", rows[0])
	}
}

func TestRatioIsTheMedianOfSameRoundRatios(t *testing.T) {
	res := newResults()
	k := key{"coll", 4, "allreduce", 8}
	// gorun / peer per round: 2/1, 3/1, 30/3 -> ratios 2, 3, 10; median 3,
	// while the ratio of the means would be 35/5 = 7.
	for round, pair := range [][2]float64{{2, 1}, {3, 1}, {30, 3}} {
		res.add(k, "gorun", round, row{iters: 10, mean: pair[0]})
		res.add(k, "openmpi", round, row{iters: 10, mean: pair[1]})
	}
	// A round the peer missed does not count.
	res.add(k, "gorun", 7, row{iters: 10, mean: 1000})
	got, ok := res.ratio(k, "openmpi")
	if !ok || got != 3 {
		t.Errorf("ratio = %v, %v; want 3, true", got, ok)
	}
	if _, ok := res.ratio(k, "mpi4py"); ok {
		t.Error("a ratio to a peer that never ran")
	}
}

func TestSummarizeTableRowsAndJobs(t *testing.T) {
	res := newResults()
	table := key{"pingpong", 2, "pingpong", 8}
	res.add(table, "gorun", 1, row{iters: 100, mean: 2, osuMean: 4, p50: 1, p99: 9})
	res.add(table, "gorun", 2, row{iters: 100, mean: 4, osuMean: 6, p50: 3, p99: 30})
	res.add(table, "gorun", 3, row{iters: 100, mean: 60, osuMean: 80, p50: 2, p99: 20}) // a disturbed round
	s := res.summarize(table, "gorun")
	if s.mean != 4 || s.osuMean != 6 || s.p50 != 2 || s.p99 != 20 {
		t.Errorf("table summary %+v: want mean 4, OSU 6, p50 2 and p99 20 (medians over rounds)", s)
	}

	jobs := key{"initfinalize", 4, "init+finalize", 0}
	for i := 1; i <= 100; i++ { // 1..100 ms over two rounds
		res.add(jobs, "gorun", i%2, row{mean: float64(i)})
	}
	s = res.summarize(jobs, "gorun")
	if math.Abs(s.mean-50.5) > 1e-9 || s.p50 != 50 || s.p99 != 99 {
		t.Errorf("job summary %+v: want mean 50.5, p50 50, p99 99 over all jobs", s)
	}
	if res.summarize(jobs, "openmpi").ok {
		t.Error("a summary of an implementation that never ran")
	}
}

func TestByteTicksLabelPowersOfTwoInBinaryUnits(t *testing.T) {
	labels := map[float64]string{}
	for _, tick := range (byteTicks{}).Ticks(8, 16<<20) {
		if tick.Label != "" {
			labels[tick.Value] = tick.Label
		}
	}
	for v, want := range map[float64]string{16: "16 B", 1 << 10: "1 KiB", 64 << 10: "64 KiB", 16 << 20: "16 MiB"} {
		if labels[v] != want {
			t.Errorf("tick at %v labelled %q, want %q", v, labels[v], want)
		}
	}
	if _, ok := labels[32]; ok {
		t.Error("a wide axis labels every power of 2; want every other one")
	}
}

// TestRoundOrder: gorun runs first in odd rounds and last in even ones,
// and the caller's list is left as it was.
func TestRoundOrder(t *testing.T) {
	impls := []impl{{name: "gorun"}, {name: "openmpi"}, {name: "mpi4py"}}
	for round, want := range map[int]string{1: "gorun, openmpi, mpi4py", 2: "mpi4py, openmpi, gorun", 3: "gorun, openmpi, mpi4py"} {
		if got := implNames(roundOrder(impls, round)); got != want {
			t.Errorf("round %d runs %s, want %s", round, got, want)
		}
	}
	if got := implNames(impls); got != "gorun, openmpi, mpi4py" {
		t.Errorf("roundOrder changed its argument to %s", got)
	}
}

// TestSmallRoundsFollowTheRoundsWithSmallRowsOnly: the small-message
// rounds are numbered after the full ones, run only their sizes and nps,
// and count in the ratio of the rows they share with the full rounds.
func TestSmallRoundsFollowTheRoundsWithSmallRowsOnly(t *testing.T) {
	// A twin that prints a row per size asked for, its mean the
	// implementation's figure: gorun 3, the peer 1.
	fake := func(name, mean string) impl {
		script := `kind=pingpong; while [ $# -gt 0 ]; do case $1 in -kind) kind=$2;; -sizes) sizes=$2;; esac; shift; done
op=pingpong; [ $kind = coll ] && op=bcast
for s in $(echo $sizes | tr , ' '); do echo "$op $s 100 ` + mean + ` 1 1 1"; done`
		return impl{name: name, command: func(np int, _ program, args ...string) []string {
			return append([]string{"sh", "-c", script, "sh"}, args...)
		}}
	}
	cfg := config{rounds: 3, iterFlags: []string{"-budget", "1"}, small: smallRounds{
		rounds: 2, pingSizes: []int{8, 64}, collNPs: []int{4}, collSizes: []int{8},
	}}
	res := newResults()
	res.add(key{"pingpong", 2, "pingpong", 8}, "gorun", 1, row{iters: 100, mean: 9})
	res.add(key{"pingpong", 2, "pingpong", 8}, "openmpi", 1, row{iters: 100, mean: 1})
	measureSmall(cfg, []impl{fake("gorun", "3"), fake("openmpi", "1")}, res, time.Minute)
	if len(res.failures) > 0 {
		t.Fatalf("failures: %v", res.failures)
	}
	var measured []key
	for _, k := range res.keys {
		measured = append(measured, k)
		for round := range res.rows[k]["gorun"] {
			if round != 1 && round != 4 && round != 5 {
				t.Errorf("%v measured as round %d, want 4 or 5", k, round)
			}
		}
	}
	want := []key{{"pingpong", 2, "pingpong", 8}, {"pingpong", 2, "pingpong", 64}, {"coll", 4, "bcast", 8}}
	if !slices.Equal(measured, want) {
		t.Errorf("measured %v, want %v", measured, want)
	}
	// Round 1 (9x) and the two small rounds (3x): the median is 3.
	if r, ok := res.ratio(key{"pingpong", 2, "pingpong", 8}, "openmpi"); !ok || r != 3 {
		t.Errorf("ratio %v (%v), want 3 over the three rounds", r, ok)
	}
}
