// Command natsvs compares gorun's ranks with raw nats.go between the same
// two processes at the same moments: run as two ranks of a gorun job over
// NATS, rank 1 also answers raw nats.go requests on the job's server
// (GORUN_NATS_URL) with their own payload, and rank 0 alternates blocks of
// gorun Send/Recv round trips with blocks of raw request/reply round trips
// of the same size, each block's order flipped from the last, so that
// whatever else the machine runs weighs on both alike. It prints, per size,
// the median and p99 one-way time (half the round trip) of each and the
// ratio gorun/raw of the medians.
//
//	gorun -np 2 --nats URL natsvs -sizes 8,1048576
//	gorun -np 2 --transport nats natsvs   # through gorun's embedded server
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	sizes := flag.String("sizes", "8,1048576", "comma-separated message sizes in bytes")
	blocks := flag.Int("blocks", 20, "blocks of each kind per size")
	bytesPerBlock := flag.Int("block-bytes", 10<<20, "bytes a block moves each way, at least one round trip and at most 100")
	flag.Parse()
	if err := run(*sizes, *blocks, *bytesPerBlock); err != nil {
		fmt.Fprintln(os.Stderr, "natsvs:", err)
		os.Exit(1)
	}
}

func run(sizeList string, blocks, bytesPerBlock int) error {
	world, err := mpi.Init()
	if err != nil {
		return err
	}
	defer mpi.Finalize()
	if world.Size() != 2 {
		return fmt.Errorf("needs 2 ranks, has %d", world.Size())
	}
	// Subjects and reply inboxes under the job's prefix: gorun's embedded
	// server allows the job's user nothing else.
	prefix := comm.NATSPrefix(os.Getenv("GORUN_JOB_ID"), os.Getenv("GORUN_SECRET"))
	nc, err := nats.Connect(os.Getenv("GORUN_NATS_URL"), nats.CustomInboxPrefix(prefix+".natsvs-inbox"))
	if err != nil {
		return fmt.Errorf("raw nats.go connection: %w", err)
	}
	defer nc.Close()
	subject := prefix + ".natsvs"
	if world.Rank() == 1 {
		if _, err := nc.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
			return err
		}
		if err := nc.Flush(); err != nil {
			return err
		}
	}
	if err := world.Barrier(); err != nil { // rank 1's echo is subscribed
		return err
	}
	if world.Rank() == 0 {
		fmt.Printf("# gorun vs raw nats.go, alternating blocks (one-way us)\n%-10s %12s %12s %12s %12s %8s\n",
			"bytes", "gorun_med", "gorun_p99", "raw_med", "raw_p99", "ratio")
	}
	for _, s := range strings.Split(sizeList, ",") {
		size, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		perBlock := min(100, max(1, bytesPerBlock/max(size, 1)))
		msg := make([]byte, size)
		if world.Rank() == 1 {
			for range (blocks + 1) * perBlock { // a warm-up block, then the measured ones
				if _, err := world.Recv(&msg, 0, 1); err != nil {
					return err
				}
				if err := world.Send(msg, 0, 1); err != nil {
					return err
				}
			}
			continue
		}
		var gorun, raw []time.Duration
		gorunBlock := func(keep bool) error {
			for range perBlock {
				start := time.Now()
				if err := world.Send(msg, 1, 1); err != nil {
					return err
				}
				if _, err := world.Recv(&msg, 1, 1); err != nil {
					return err
				}
				if keep {
					gorun = append(gorun, time.Since(start)/2)
				}
			}
			return nil
		}
		rawBlock := func(keep bool) error {
			for range perBlock {
				start := time.Now()
				if _, err := nc.Request(subject, msg, 10*time.Second); err != nil {
					return err
				}
				if keep {
					raw = append(raw, time.Since(start)/2)
				}
			}
			return nil
		}
		if err := gorunBlock(false); err != nil {
			return err
		}
		if err := rawBlock(false); err != nil {
			return err
		}
		for b := range blocks {
			first, second := gorunBlock, rawBlock
			if b%2 == 1 {
				first, second = rawBlock, gorunBlock
			}
			if err := first(true); err != nil {
				return err
			}
			if err := second(true); err != nil {
				return err
			}
		}
		gm, gp := stats(gorun)
		rm, rp := stats(raw)
		fmt.Printf("%-10d %12.2f %12.2f %12.2f %12.2f %8.2f\n", size, us(gm), us(gp), us(rm), us(rp), float64(gm)/float64(rm))
	}
	return nil
}

// stats returns the median and the 99th percentile of samples.
func stats(samples []time.Duration) (median, p99 time.Duration) {
	slices.Sort(samples)
	return samples[len(samples)/2], samples[len(samples)*99/100]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
