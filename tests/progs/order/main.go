// Command order checks the order rule of point-to-point messages with a
// randomized, seeded plan (see internal/ordertest): every rank derives the
// same plan from -seed, carries out its part, and checks what it received.
// It prints "rank R ok order seed=S messages=M" on success; on a failure it
// prints a line starting with "FAIL order seed=S" that names the message,
// and exits 1. Run the same seed and -np to reproduce.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gorun-mpi/gorun/internal/ordertest"
	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	seed := flag.Uint64("seed", 1, "seed of the plan; every rank must get the same")
	rounds := flag.Int("rounds", 4, "rounds in the plan")
	perRank := flag.Int("msgs", 8, "messages each rank sends per round, about")
	noHuge := flag.Bool("no-huge", false, "leave out the 1-2 MiB messages")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "Init:", err)
		os.Exit(1)
	}
	me, np := world.Rank(), world.Size()
	p := ordertest.NewPlan(*seed, np, ordertest.Config{Rounds: *rounds, PerRank: *perRank, NoHuge: *noHuge})
	if err := ordertest.Run(world, p); err != nil {
		fmt.Printf("FAIL order seed=%d np=%d rank %d: %v\n", *seed, np, me, err)
		os.Exit(1)
	}
	if err := mpi.Finalize(); err != nil {
		fmt.Printf("FAIL order seed=%d np=%d rank %d: Finalize: %v\n", *seed, np, me, err)
		os.Exit(1)
	}
	fmt.Printf("rank %d ok order seed=%d messages=%d\n", me, *seed, len(p.Msgs))
}
