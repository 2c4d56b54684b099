package tests

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/collectives"
)

// mpichCases lists the cases of tests/progs/mpich.
func mpichCases(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(bin("mpich"), "-list").Output()
	if err != nil {
		t.Fatalf("mpich -list: %v", err)
	}
	names := strings.Fields(string(out))
	if len(names) < 12 {
		t.Fatalf("only %d cases: %v", len(names), names)
	}
	return names
}

// runMPICH runs the named cases in turn in one job of np ranks and checks
// that every rank finished every case (or skipped one the world is too
// small for). Each case is a subtest, so a failure names its case.
func runMPICH(t *testing.T, np int, flags, env, names []string) {
	t.Helper()
	flags = append(append([]string{}, flags...), "--timeout", mpichJobTimeout.String())
	// The test waits longer than gorun's own limit, so that a job that
	// overruns ends with gorun's report of where each rank is, not a kill.
	res := runGorun(t, job{np: np, prog: "mpich", flags: flags, env: env, args: []string{"-case", strings.Join(names, ",")},
		limit: mpichJobTimeout + 30*time.Second})
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			switch {
			case strings.Count(res.stdout, " ok "+name+"\n") == np:
			case strings.Count(res.stdout, " skip "+name+" ") == np:
				t.Skipf("the world is too small: %s", firstLine(res.stdout, " skip "+name+" "))
			default:
				t.Fatalf("not every rank finished %s (exit status %d)\nstdout:\n%s\nstderr:\n%s", name, res.code, res.stdout, res.stderr)
			}
		})
	}
	if res.code != 0 {
		t.Fatalf("exit status %d\nstderr:\n%s", res.code, res.stderr)
	}
	noProcessLeft(t, res)
}

// mpichJobTimeout is gorun's --timeout for a job of MPICH cases: every
// case of a world runs in one job, which took 38 s at -np 4 with
// --sync-sends beside two CPU hogs on a 2-core AMD EPYC VM on 2026-12-01
// and over 90 s on the same VM the next day, its host slower (a fresh
// page's first write took 12-16 us).
const mpichJobTimeout = 180 * time.Second

// firstLine returns the first line of s containing sub.
func firstLine(s, sub string) string {
	for _, l := range lines(s) {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// TestMPICH runs the cases of tests/progs/mpich, ported from MPICH's
// test/mpi/pt2pt, test/mpi/coll and test/mpi/comm, at -np 2 and 5 on each
// transport (-short: at -np 4 only), all cases of a world in one job. At
// -np 4 every case runs in TestMPICHSyncSends (every send synchronous);
// the jobs at -np 4 here took 34 of the test's 83 s under two CPU hogs
// on a 2-core AMD EPYC, where the suite took over 15 minutes. The four
// jobs run at the same time: together they use about one core (some cases
// sleep on purpose, a late receiver), so one after another left the
// other idle.
func TestMPICH(t *testing.T) {
	names := mpichCases(t)
	nps := []int{2, 5}
	if testing.Short() {
		nps = []int{4}
	}
	for _, tr := range transports {
		for _, np := range nps {
			t.Run(fmt.Sprintf("%s/np=%d", tr.name, np), func(t *testing.T) {
				t.Parallel()
				runMPICH(t, np, tr.flags, nil, names)
			})
		}
	}
}

// TestMPICHForcedAlgorithms runs the cases that check reductions (bitwise
// agreement of float sums, non-commutative operators, user operators on
// structs) and the broadcast case with each Allreduce and each Bcast
// algorithm forced, one of each per job (forcedSets), at -np 3 and 5.
func TestMPICHForcedAlgorithms(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: TestMPICH covers the default algorithms")
	}
	all := collectives.Algorithms()
	algs := map[string][]string{"GORUN_COLL_ALLREDUCE": all["GORUN_COLL_ALLREDUCE"], "GORUN_COLL_BCAST": all["GORUN_COLL_BCAST"]}
	for i, env := range forcedSets(algs) {
		for _, np := range []int{3, 5} {
			t.Run(fmt.Sprintf("set%d/np=%d", i, np), func(t *testing.T) {
				t.Logf("forced: %s", strings.Join(env, " "))
				runMPICH(t, np, nil, env, []string{"allred-float", "allred3", "longuser", "coll12", "bcast2"})
			})
		}
	}
}

// TestMPICHSyncSends runs every case with --sync-sends at -np 4 on the
// local transport: a correct MPI program must not rely on Send buffering.
// The cases run in mpichSyncJobs jobs, one after another.
func TestMPICHSyncSends(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: TestMPICH covers buffered sends")
	}
	jobs := make([][]string, mpichSyncJobs)
	for i, name := range mpichCases(t) {
		jobs[i%mpichSyncJobs] = append(jobs[i%mpichSyncJobs], name)
	}
	for i, names := range jobs {
		t.Run(fmt.Sprintf("job%d", i+1), func(t *testing.T) {
			runMPICH(t, 4, []string{"--sync-sends"}, nil, names)
		})
	}
}

// mpichSyncJobs: every case with synchronous sends in one job took 48-56
// s on a quiet 2-core AMD EPYC VM, and more than mpichJobTimeout (36 of 41
// cases done) in CI's test command beside two CPU hogs with the computing
// suites made parallel (tried and reverted, 2026-12-02). Most of it is one
// case: pingping's stream of synchronous Sends at -np 4 took 37-38 s on a
// quiet machine (5 s of it CPU), 44 s alone beside two hogs and 0.7 s once
// beside a CI run, against 2.7 s with GORUN_YIELD=0 and 1.6-2.1 s at -np
// 2: the oversubscribed wait path's slowness, noted on issue 17, not
// fixed. Three jobs, the cases dealt out in turn, keep each well inside
// the limit.
const mpichSyncJobs = 3
