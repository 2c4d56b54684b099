// Command tracedeath makes a rank die inside an mpi call, for gorun
// --trace's tests: every rank passes a token round a ring a few times
// (Sendrecv) and meets the others in a Barrier, then all Allreduce, with
// an operator that, on the victim, dies as -how says: panic,
// exit (os.Exit(3)) or block (it writes its pid to the file -ready names,
// a FIFO the test reads, and waits to be killed from outside). The victim
// is then inside Allreduce; the others have left it and wait in a Barrier.
//
//	gorun -np 3 --trace t.json ./tests/progs/tracedeath -how panic
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gorun-mpi/gorun/mpi"
)

// box is a value no shared-memory path reduces: the operator runs on the
// root, where the values are combined.
type box struct{ Ranks []int }

func main() {
	how := flag.String("how", "panic", "how the victim dies: panic, exit or block")
	victim := flag.Int("victim", 1, "the rank that dies")
	rounds := flag.Int("rounds", 3, "rounds of the ring before")
	ready := flag.String("ready", "", "block: the file to write the victim's pid to once inside Allreduce")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fail(err)
	}
	me, np := world.Rank(), world.Size()
	token := 0
	for i := 0; i < *rounds; i++ {
		var got int
		if _, err := world.Sendrecv(token+1, (me+1)%np, 0, &got, (me+np-1)%np, 0); err != nil {
			fail(err)
		}
		token = got
	}
	if err := world.Barrier(); err != nil {
		fail(err)
	}
	op := func(a, b box) box {
		if me == *victim {
			die(*how, *ready)
		}
		return box{append(a.Ranks, b.Ranks...)}
	}
	if _, err := mpi.Allreduce(world, box{[]int{me}}, op); err != nil {
		fail(err)
	}
	if me == *victim {
		fail(fmt.Errorf("rank %d: the operator never ran", me))
	}
	if err := world.Barrier(); err != nil { // the victim never comes
		fail(err)
	}
	mpi.Finalize()
}

func die(how, ready string) {
	switch how {
	case "panic":
		panic("tracedeath: dying inside Allreduce")
	case "exit":
		os.Exit(3)
	case "block":
		if err := os.WriteFile(ready, fmt.Appendf(nil, "%d\n", os.Getpid()), 0); err != nil {
			fail(err)
		}
		select {} // until killed
	}
	fail(fmt.Errorf("unknown -how %q", how))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tracedeath:", err)
	os.Exit(1)
}
