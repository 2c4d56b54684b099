// Command haversine is a web service computing great-circle distances,
// with the reference workload of the project's WORKLOADS.md: rank 0 owns the
// requests, hands them to every rank, every rank computes, and the answers
// are combined on rank 0.
//
// Two ways to share the work out:
//
//   - static (default): rank 0 cuts the requests into one chunk per rank
//     and sends each rank its chunk, and Reduce adds up the chunks' sums -
//     the multiprocessing.Pool.map way;
//
//   - -dynamic: rank 0 makes the requests in chunks of -chunk requests,
//     each when a worker asks for one, and farm.RunSeq hands them out to
//     whichever worker asks next, until none are left - the Parallel
//     Python / Celery way, which balances uneven work.
//
//     go run ./cmd/gorun -np 4 ./examples/haversine
//     go run ./cmd/gorun -np 4 ./examples/haversine -n 8000000 -dynamic
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

// tagChunk is the tag of the static split's chunks.
const tagChunk = 1

// answer is a named request's distance and the rank that computed it.
type answer struct {
	Name string
	Km   float64
	Rank int
}

func main() {
	n := flag.Int("n", 80000, "number of generated requests")
	dynamic := flag.Bool("dynamic", false, "hand chunks out on demand (farm.RunSeq) instead of scattering")
	chunk := flag.Int("chunk", 10000, "requests per chunk in -dynamic mode")
	phases := flag.Bool("phases", false, "static split: print on stderr when each phase ended on each rank (ms from the clock's start)")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "haversine:", err)
		os.Exit(1)
	}
	defer mpi.Finalize()
	if *n < 0 || *chunk < 1 {
		mpi.Abort(2, "haversine: -n must be >= 0 and -chunk >= 1")
	}
	if err := run(world, *n, *dynamic, *chunk, *phases); err != nil {
		mpi.Abort(1, err.Error())
	}
}

func run(world *mpi.Comm, n int, dynamic bool, chunk int, phases bool) error {
	if err := answerNamed(world); err != nil {
		return err
	}
	// The clock times the generated load only, and starts once every rank
	// is ready: ranks start at different times (more so on a busy
	// machine), and rank 0 would otherwise count the others' start-up as
	// work. bench/haversine's C and Python twins time the same span.
	if err := world.Barrier(); err != nil {
		return err
	}
	start := time.Now()
	var total float64
	var err error
	if dynamic {
		total, err = farmed(world, n, chunk)
	} else {
		clock := newPhaseClock(phases, start)
		total, err = scatterReduce(world, n, clock)
		clock.report(os.Stderr, world.Rank())
	}
	if err != nil {
		return err
	}
	if world.Rank() == 0 {
		fmt.Printf("total_km=%.6f requests=%d ranks=%d seconds=%.3f\n", total, n, world.Size(), time.Since(start).Seconds())
	}
	return nil
}

// answerNamed spreads the four named requests over the ranks and prints
// each answer with the rank that computed it.
func answerNamed(world *mpi.Comm) error {
	var all []request
	if world.Rank() == 0 {
		all = namedRequests
	}
	mine, err := mpi.Scatter(world, all, 0)
	if err != nil {
		return err
	}
	answers := make([]answer, len(mine))
	for i, r := range mine {
		answers[i] = answer{r.Name, haversine(r.Lat1, r.Lon1, r.Lat2, r.Lon2), world.Rank()}
	}
	got, err := mpi.Gather(world, answers, 0)
	if err != nil {
		return err
	}
	for _, a := range got { // only rank 0 has them
		fmt.Printf("%s: %d km (rank %d)\n", a.Name, int(a.Km), a.Rank)
	}
	return nil
}

// scatterReduce: rank 0 generates the requests and sends each rank its
// share (four float64 per request, so whole requests travel as raw bytes),
// every rank sums its share, and Reduce adds the sums. clock, when not
// nil, notes when each phase ended (-phases).
func scatterReduce(world *mpi.Comm, n int, clock *phaseClock) (float64, error) {
	// A request is four numbers. mpi.Scatter would cut a slice of numbers
	// without regard to requests, so rank 0 cuts the requests itself, with
	// Scatter's rule (lengths differ by at most one request, longer first):
	// rank r answers counts[r] requests from firsts[r] on.
	counts := shares(n, world.Size())
	firsts := make([]int, len(counts))
	for r := 1; r < len(counts); r++ {
		firsts[r] = firsts[r-1] + counts[r-1]
	}
	var mine []float64
	if world.Rank() == 0 {
		// Each share is generated just before it is sent, rank 0's own
		// last: rank 1 computes while rank 0 generates rank 2's share,
		// instead of every rank waiting until all requests exist. One
		// buffer serves every share (rank 0's is the largest): as in MPI,
		// a buffer may be refilled as soon as Send returns.
		mine = make([]float64, 4*counts[0])
		for r := 1; r < world.Size(); r++ {
			share := mine[:4*counts[r]]
			generate(share, firsts[r])
			clock.mark(fmt.Sprintf("gen%d", r))
			if err := world.Send(share, r, tagChunk); err != nil {
				return 0, err
			}
			clock.mark(fmt.Sprintf("sent%d", r))
		}
		generate(mine, 0)
		clock.mark("gen0")
	} else {
		if _, err := world.Recv(&mine, 0, tagChunk); err != nil {
			return 0, err
		}
		clock.mark("recvd")
	}
	local := sumDistances(mine)
	clock.mark("computed")
	// Each rank's output reaches gorun through its own pipe, so lines of
	// different ranks may come out in any order. Rank 0 prints for all,
	// so that the total is the last line.
	answered, err := mpi.Gather(world, []int{len(mine) / 4}, 0)
	if err != nil {
		return 0, err
	}
	clock.mark("gathered")
	for r, n := range answered {
		fmt.Printf("rank %d answered %d requests\n", r, n)
	}
	total, err := mpi.Reduce(world, local, mpi.Sum, 0)
	clock.mark("reduced")
	return total, err
}

// shares splits n requests over size ranks as Scatter would: lengths
// differ by at most one, the longer first.
func shares(n, size int) []int {
	counts := make([]int, size)
	for r := range counts {
		counts[r] = n / size
		if r < n%size {
			counts[r]++
		}
	}
	return counts
}
