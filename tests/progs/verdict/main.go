// Command verdict is the integration tests' program for deadlock verdicts:
// -mode picks a job that is truly deadlocked (gorun must say so quickly)
// or one that is slow but alive (gorun must let it finish).
//
// Deadlocked modes print "blocking at MS" (Unix milliseconds) just before
// the call that never returns, so the test can time the verdict:
//
//	recv-first     every rank receives from the next before sending
//	send-send      two ranks Send -kib KiB to each other (above the eager
//	               limit) before receiving
//	ssend-pair     two ranks Ssend a small message to each other
//	wait-finished  the last rank finalizes at once; the others receive
//	               from any source, a message nobody sends
//	wrong-tag      rank 1 sends tag 6 to rank 0, which waits for tag 5
//	               from rank 1, which waits for tag 7 from rank 0
//
// Live modes end with "ok" from rank 0:
//
//	ring      -rounds Sendrecv of -kib KiB around a ring
//	compute   rank 0 computes for -seconds, then sends to every rank,
//	          which waits in Recv meanwhile
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	mode := flag.String("mode", "recv-first", "see the package doc")
	kib := flag.Int("kib", 2048, "message size in KiB (send-send, ring)")
	rounds := flag.Int("rounds", 3, "rounds (ring)")
	seconds := flag.Float64("seconds", 10, "how long rank 0 computes (compute)")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := run(world, *mode, *kib, *rounds, time.Duration(*seconds*float64(time.Second))); err != nil {
		fmt.Fprintf(os.Stderr, "rank %d: %v\n", world.Rank(), err)
		os.Exit(1)
	}
	if err := mpi.Finalize(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func blocking() { fmt.Printf("blocking at %d\n", time.Now().UnixMilli()) }

func run(world *mpi.Comm, mode string, kib, rounds int, compute time.Duration) error {
	me, n := world.Rank(), world.Size()
	next, prev := (me+1)%n, (me-1+n)%n
	switch mode {
	case "recv-first":
		var x int
		blocking()
		if _, err := world.Recv(&x, next, 5); err != nil {
			return err
		}
		return world.Send(me, prev, 5)
	case "send-send":
		big := make([]byte, kib<<10)
		blocking()
		if err := world.Send(big, next, 1); err != nil {
			return err
		}
		_, err := world.Recv(&big, prev, 1)
		return err
	case "ssend-pair":
		blocking()
		if err := world.Ssend(me, next, 1); err != nil {
			return err
		}
		var x int
		_, err := world.Recv(&x, prev, 1)
		return err
	case "wait-finished":
		if me == n-1 {
			return nil
		}
		var x int
		blocking()
		_, err := world.Recv(&x, mpi.AnySource, 9)
		return err
	case "wrong-tag":
		var x int
		if me == 1 {
			if err := world.Send(1, 0, 6); err != nil {
				return err
			}
		}
		blocking()
		if me < 2 {
			_, err := world.Recv(&x, 1-me, 5+2*me)
			return err
		}
	case "ring":
		out := make([]byte, kib<<10)
		in := make([]byte, kib<<10)
		for r := 0; r < rounds; r++ {
			for i := range out {
				out[i] = byte(me + r + i)
			}
			if _, err := world.Sendrecv(out, next, r, &in, prev, r); err != nil {
				return err
			}
			for i := range in {
				if in[i] != byte(prev+r+i) {
					return fmt.Errorf("round %d: byte %d from rank %d is %d, want %d", r, i, prev, in[i], byte(prev+r+i))
				}
			}
		}
		if err := world.Barrier(); err != nil {
			return err
		}
	case "compute":
		if me == 0 {
			sum := 0.0
			for start := time.Now(); time.Since(start) < compute; {
				for i := 0; i < 1000; i++ {
					sum += float64(i) * 1e-9
				}
			}
			for q := 1; q < n; q++ {
				if err := world.Send(sum, q, 3); err != nil {
					return err
				}
			}
		} else {
			var sum float64
			if _, err := world.Recv(&sum, 0, 3); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	if me == 0 {
		fmt.Println("ok")
	}
	return nil
}
