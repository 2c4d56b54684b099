// Command mpich runs one of a set of cases ported from MPICH's own test
// suite: test/mpi/pt2pt, test/mpi/coll and test/mpi/comm of
// https://github.com/pmodels/mpich (Copyright Argonne National
// Laboratory, under MPICH's permissive license, see its COPYRIGHT file;
// coll/allred_float.c is Apache-2.0). Each case names the MPICH file it
// comes from; the ports keep what each test checks and express it with
// this module's API (Go slices and values instead of MPI datatypes).
//
// Usage: gorun -np N mpich -case NAME. Every rank prints "rank R ok NAME"
// when the case passed; on a wrong answer a rank prints "FAIL NAME rank R:
// ..." and exits 1. -list prints the case names.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/gorun-mpi/gorun/mpi"
)

// testCase is one ported test: min is the smallest world it needs.
type testCase struct {
	min int
	run func(world *mpi.Comm) error
}

var cases = map[string]testCase{}

func register(name string, min int, run func(*mpi.Comm) error) {
	cases[name] = testCase{min, run}
}

func main() {
	name := flag.String("case", "", "the case to run, or several, comma-separated, run in turn in one job")
	list := flag.Bool("list", false, "print the case names and exit")
	flag.Parse()
	if *list {
		var names []string
		for n := range cases {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Println(n)
		}
		return
	}
	names := strings.Split(*name, ",")
	for _, n := range names {
		if _, ok := cases[n]; !ok {
			fmt.Fprintf(os.Stderr, "unknown case %q (-list names them)\n", n)
			os.Exit(2)
		}
	}
	world, err := mpi.Init()
	if err != nil {
		fmt.Printf("FAIL %s: Init: %v\n", *name, err)
		os.Exit(1)
	}
	me := world.Rank()
	for _, n := range names {
		tc := cases[n]
		if world.Size() < tc.min {
			fmt.Printf("rank %d skip %s (needs %d ranks)\n", me, n, tc.min)
			continue
		}
		if err := tc.run(world); err != nil {
			fmt.Printf("FAIL %s rank %d: %v\n", n, me, err)
			os.Exit(1)
		}
		// Every rank is done with this case before the next begins.
		if err := world.Barrier(); err != nil {
			fmt.Printf("FAIL %s rank %d: Barrier after the case: %v\n", n, me, err)
			os.Exit(1)
		}
		fmt.Printf("rank %d ok %s\n", me, n)
	}
	if err := mpi.Finalize(); err != nil {
		fmt.Printf("FAIL rank %d: Finalize: %v\n", me, err)
		os.Exit(1)
	}
}

// check returns an error when cond is false.
func check(cond bool, format string, args ...any) error {
	if cond {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// namedComm is a communicator with a name for reports.
type namedComm struct {
	name string
	c    *mpi.Comm
}

// intracomms returns the communicators MPICH's MTestGetIntracommGeneral
// walks through, as far as this API has them: the world, a Dup, the world
// renumbered backwards by Split, and the two halves of the world by Split.
// Every rank calls it; communicators smaller than min are left out (a rank
// may get fewer than another: loops over the result must be collective
// per communicator only).
func intracomms(world *mpi.Comm, min int) ([]namedComm, error) {
	me, n := world.Rank(), world.Size()
	out := []namedComm{{"world", world}}
	dup, err := world.Dup()
	if err != nil {
		return nil, err
	}
	out = append(out, namedComm{"dup", dup})
	rev, err := world.Split(0, n-me)
	if err != nil {
		return nil, err
	}
	out = append(out, namedComm{"reversed", rev})
	half := 0
	if me >= n/2 {
		half = 1
	}
	h, err := world.Split(half, me)
	if err != nil {
		return nil, err
	}
	out = append(out, namedComm{fmt.Sprintf("half %d", half), h})
	var kept []namedComm
	for _, c := range out {
		if c.c.Size() >= min {
			kept = append(kept, c)
		}
	}
	return kept, nil
}
