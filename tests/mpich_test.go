package tests

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// mpichKnown are failures of tests/progs/mpich cases understood and
// reported but not fixed yet: a case failing with this text in its output
// is skipped with the explanation rather than failed.
var mpichKnown = map[string]struct{ text, why string }{
	"rqstatus": {"receive not yet complete", "on the local transport, a receive whose Ssend has returned " +
		"may not test complete right after a Barrier (shared memory): the Ssend returns once its body is " +
		"written to the socket, before the receiver has read it; MPI only promises eventual completion " +
		"(MPICH's eager-sync Ssend passes this)"},
}

// TestMPICH runs the cases of tests/progs/mpich, ported from MPICH's
// test/mpi/pt2pt, test/mpi/coll and test/mpi/comm, at -np 2, 4 and 5 on
// each transport (-short: at -np 4 only).
func TestMPICH(t *testing.T) {
	out, err := exec.Command(bin("mpich"), "-list").Output()
	if err != nil {
		t.Fatalf("mpich -list: %v", err)
	}
	names := strings.Fields(string(out))
	if len(names) < 12 {
		t.Fatalf("only %d cases: %v", len(names), names)
	}
	nps := []int{2, 4, 5}
	if testing.Short() {
		nps = []int{4}
	}
	for _, tr := range transports {
		for _, name := range names {
			for _, np := range nps {
				t.Run(fmt.Sprintf("%s/%s/np=%d", tr.name, name, np), func(t *testing.T) {
					flags := append(append([]string{}, tr.flags...), "--timeout", "60s")
					res := runGorun(t, job{np: np, prog: "mpich", flags: flags, args: []string{"-case", name}})
					ok := strings.Count(res.stdout, " ok "+name+"\n")
					if res.code == 0 && ok == np {
						noProcessLeft(t, res)
						return
					}
					if res.code == 0 && strings.Count(res.stdout, " skip "+name+" ") == np {
						t.Skipf("%s", lines(res.stdout)[0])
					}
					if k, found := mpichKnown[name]; found && strings.Contains(res.stdout, k.text) {
						t.Skipf("known issue: %s\n%s", k.why, res.stdout)
					}
					t.Fatalf("exit status %d, %d of %d ranks ok\nstdout:\n%s\nstderr:\n%s", res.code, ok, np, res.stdout, res.stderr)
				})
			}
		}
	}
}

// TestMPICHForcedAlgorithms runs the cases that check reductions (bitwise
// agreement of float sums, non-commutative operators, user operators on
// structs) with each Allreduce algorithm forced, and the broadcast case
// with each Bcast algorithm, at -np 3 and 5.
func TestMPICHForcedAlgorithms(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: TestMPICH covers the default algorithms")
	}
	type force struct {
		env   string
		cases []string
	}
	var forced []force
	for _, alg := range []string{"recursive_doubling", "ring", "rabenseifner", "shm"} {
		forced = append(forced, force{"GORUN_COLL_ALLREDUCE=" + alg, []string{"allred-float", "allred3", "longuser", "coll12"}})
	}
	for _, alg := range []string{"binomial", "scatter_allgather", "shm"} {
		forced = append(forced, force{"GORUN_COLL_BCAST=" + alg, []string{"bcast2"}})
	}
	for _, f := range forced {
		for _, name := range f.cases {
			for _, np := range []int{3, 5} {
				t.Run(fmt.Sprintf("%s/%s/np=%d", f.env, name, np), func(t *testing.T) {
					res := runGorun(t, job{np: np, prog: "mpich", flags: []string{"--timeout", "60s"},
						args: []string{"-case", name}, env: []string{f.env}})
					if ok := strings.Count(res.stdout, " ok "+name+"\n"); res.code != 0 || ok != np {
						t.Fatalf("exit status %d, %d of %d ranks ok\nstdout:\n%s\nstderr:\n%s", res.code, ok, np, res.stdout, res.stderr)
					}
				})
			}
		}
	}
}

// TestMPICHSyncSends runs every case with --sync-sends at -np 4 on the
// local transport: a correct MPI program must not rely on Send buffering.
func TestMPICHSyncSends(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: TestMPICH covers buffered sends")
	}
	out, err := exec.Command(bin("mpich"), "-list").Output()
	if err != nil {
		t.Fatalf("mpich -list: %v", err)
	}
	for _, name := range strings.Fields(string(out)) {
		t.Run(name, func(t *testing.T) {
			res := runGorun(t, job{np: 4, prog: "mpich", flags: []string{"--sync-sends", "--timeout", "60s"}, args: []string{"-case", name}})
			if ok := strings.Count(res.stdout, " ok "+name+"\n"); res.code == 0 && ok == 4 {
				return
			}
			if k, found := mpichKnown[name]; found && strings.Contains(res.stdout, k.text) {
				t.Skipf("known issue: %s\n%s", k.why, res.stdout)
			}
			t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
		})
	}
}
