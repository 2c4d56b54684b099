// Command target is the integration tests' target of hostile local
// processes: a job whose sockets a test attacks while it runs.
//
// Every rank joins the job; once all have (a Barrier), rank 0 writes the
// job's socket directory, control socket path (GORUN_DIR and
// GORUN_CONTROL), gorun's pid and the NATS server's host:port (from
// GORUN_NATS_URL, without its credentials; "-" on the local transport), one
// a line, to -info, for the attacker to find. Every
// rank then waits until the file -go exists and runs -rounds rounds of
// real communication, checking each result: a ring Sendrecv of a small
// and of a large (rendezvous) message, an Allreduce, an AllreduceSlice,
// a Bcast and an Alltoall. Each rank that finishes cleanly prints
// "rank R ok"; a wrong result or error is printed and the rank exits 1.
//
// With -tiny, a rank does nothing but Init, a Barrier, one checked
// Allreduce and Finalize, printing nothing: the short job run a thousand
// times by the leak test. -late delays Init (an attacker gets to the
// control socket first); -nofile lowers the rank's descriptor limit.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"syscall"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	info := flag.String("info", "", "file where rank 0 writes GORUN_DIR, GORUN_CONTROL, gorun's pid and the NATS server")
	goFile := flag.String("go", "", "file whose existence starts the communication")
	wait := flag.Duration("wait", 60*time.Second, "longest wait for -go")
	rounds := flag.Int("rounds", 20, "rounds of communication")
	tiny := flag.Bool("tiny", false, "only Init, Barrier, one Allreduce, Finalize")
	nofile := flag.Uint64("nofile", 0, "if not 0, the most descriptors the rank may open")
	late := flag.Duration("late", 0, "how long to wait before Init")
	flag.Parse()
	time.Sleep(*late)
	if *nofile > 0 {
		limit := syscall.Rlimit{Cur: *nofile, Max: *nofile}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
			fail(fmt.Errorf("limiting descriptors to %d: %w", *nofile, err))
		}
	}
	world, err := mpi.Init()
	if err != nil {
		fail(err)
	}
	if *tiny {
		if err := tinyJob(world); err != nil {
			fail(err)
		}
		return
	}
	if err := world.Barrier(); err != nil {
		fail(err)
	}
	if world.Rank() == 0 && *info != "" {
		if err := writeInfo(*info); err != nil {
			fail(err)
		}
	}
	if *goFile != "" {
		if err := waitFor(*goFile, *wait); err != nil {
			fail(err)
		}
	}
	for i := 0; i < *rounds; i++ {
		if err := round(world, i); err != nil {
			fail(fmt.Errorf("round %d: %w", i, err))
		}
	}
	if err := mpi.Finalize(); err != nil {
		fail(err)
	}
	fmt.Printf("rank %d ok\n", world.Rank())
}

// tinyJob is the whole of a -tiny rank's work.
func tinyJob(world *mpi.Comm) error {
	if err := world.Barrier(); err != nil {
		return err
	}
	n := world.Size()
	sum, err := mpi.Allreduce(world, world.Rank()+1, mpi.Sum)
	if err != nil {
		return err
	}
	if sum != n*(n+1)/2 {
		return fmt.Errorf("got %d from Allreduce, want %d", sum, n*(n+1)/2)
	}
	return mpi.Finalize()
}

// writeInfo writes the job's socket paths to path, whole or not at all.
func writeInfo(path string) error {
	server := "-"
	if raw := os.Getenv("GORUN_NATS_URL"); raw != "" {
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("GORUN_NATS_URL: %w", err)
		}
		server = u.Host
	}
	text := fmt.Sprintf("%s\n%s\n%d\n%s\n", os.Getenv("GORUN_DIR"), os.Getenv("GORUN_CONTROL"), os.Getppid(), server)
	if err := os.WriteFile(path+".tmp", []byte(text), 0o600); err != nil {
		return fmt.Errorf("writing the job's paths: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("writing the job's paths: %w", err)
	}
	return nil
}

// waitFor polls until path exists, for at most limit.
func waitFor(path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %v", path, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// round runs one round of communication, checking every result.
func round(world *mpi.Comm, i int) error {
	me, n := world.Rank(), world.Size()
	next, prev := (me+1)%n, (me-1+n)%n

	var got int
	if _, err := world.Sendrecv(me*1000+i, next, 1, &got, prev, 1); err != nil {
		return err
	}
	if got != prev*1000+i {
		return fmt.Errorf("small Sendrecv from %d: got %d, want %d", prev, got, prev*1000+i)
	}

	big := make([]int64, 1<<17) // 1 MiB: rendezvous on every transport
	for k := range big {
		big[k] = int64(me*7 + k + i)
	}
	var in []int64
	if _, err := world.Sendrecv(big, next, 2, &in, prev, 2); err != nil {
		return err
	}
	if len(in) != len(big) {
		return fmt.Errorf("large Sendrecv from %d: %d elements, want %d", prev, len(in), len(big))
	}
	for k, v := range in {
		if v != int64(prev*7+k+i) {
			return fmt.Errorf("large Sendrecv from %d: element %d is %d, want %d", prev, k, v, prev*7+k+i)
		}
	}

	sum, err := mpi.Allreduce(world, me+i, mpi.Sum)
	if err != nil {
		return err
	}
	if want := n*(n-1)/2 + n*i; sum != want {
		return fmt.Errorf("got %d from Allreduce, want %d", sum, want)
	}

	v := make([]float64, 1<<16)
	for k := range v {
		v[k] = float64(me + k)
	}
	s, err := mpi.AllreduceSlice(world, v, mpi.Sum)
	if err != nil {
		return err
	}
	for k, x := range s {
		if want := float64(n*(n-1)/2 + n*k); x != want {
			return fmt.Errorf("AllreduceSlice: element %d is %v, want %v", k, x, want)
		}
	}

	root := i % n
	b, err := mpi.Bcast(world, fmt.Sprintf("round %d from %d", i, me), root)
	if err != nil {
		return err
	}
	if want := fmt.Sprintf("round %d from %d", i, root); b != want {
		return fmt.Errorf("got %q from Bcast, want %q", b, want)
	}

	parts := make([][]int, n)
	for d := range parts {
		parts[d] = []int{me, d, i}
	}
	recv, err := mpi.Alltoall(world, parts)
	if err != nil {
		return err
	}
	for src, p := range recv {
		if len(p) != 3 || p[0] != src || p[1] != me || p[2] != i {
			return fmt.Errorf("got %v from rank %d in Alltoall, want [%d %d %d]", p, src, src, me, i)
		}
	}
	return nil
}

func fail(err error) {
	var me any = "?"
	if r := os.Getenv("GORUN_RANK"); r != "" {
		me = r
	}
	fmt.Printf("rank %v failed: %v\n", me, err)
	if errors.Is(err, mpi.ErrPeerLost) {
		os.Exit(3)
	}
	os.Exit(1)
}
