package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gorun-mpi/gorun/mpi"
)

// tagPing is the tag of the ping-pong's messages.
const tagPing = 1

func run(kind string, p plan) error {
	world, err := mpi.Init()
	if err != nil {
		return err
	}
	defer mpi.Finalize()
	stop, err := startProfiles(p, world.Rank())
	if err != nil {
		return err
	}
	defer stop()
	if world.Rank() == 0 {
		fmt.Printf("# gorun ops %s, %d ranks; microseconds, largest over the ranks\n", kind, world.Size())
		fmt.Printf("%-16s %10s %7s %12s %12s %12s %12s\n", "op", "bytes", "iters", "mean_us", "osu_mean_us", "p50_us", "p99_us")
	}
	switch kind {
	case "pingpong":
		return pingpong(world, p)
	case "coll":
		return collectives(world, p)
	}
	return fmt.Errorf("-kind %q: want pingpong or coll", kind)
}

// report measures one row and rank 0 prints it.
func report(world *mpi.Comm, p plan, op string, size, n int, scale float64, call func() error) error {
	var stats func(each []float64) func()
	if p.stats {
		stats = func(each []float64) func() {
			s := startStats()
			return func() { s.report(op, size, world.Rank(), each) }
		}
	}
	var slow *slowCalls
	if p.slowCalls != "" {
		slow = newSlowCalls(p.slowCalls, world.Rank(), fmt.Sprintf("%s/%d", op, size), p.slowMin, n)
	}
	f, err := measure(world, call, n, scale, stats, slow)
	if err != nil {
		return fmt.Errorf("%s, %d bytes: %w", op, size, err)
	}
	if world.Rank() == 0 {
		fmt.Printf("%-16s %10d %7d %12.3f %12.3f %12.3f %12.3f\n", op, size, n, f.mean, f.osuMean, f.p50, f.p99)
	}
	return nil
}

// pingpong: rank 0 sends each size to rank 1, which sends it back.
func pingpong(world *mpi.Comm, p plan) error {
	if world.Size() < 2 {
		return errors.New("pingpong needs 2 ranks or more")
	}
	for _, size := range p.sizes {
		msg := make([]byte, size)
		roundTrip := func() error {
			var err error
			switch world.Rank() {
			case 0:
				if err = world.Send(msg, 1, tagPing); err == nil {
					_, err = world.Recv(&msg, 1, tagPing)
				}
			case 1:
				if _, err = world.Recv(&msg, 0, tagPing); err == nil {
					err = world.Send(msg, 0, tagPing)
				}
			}
			return err
		}
		if size == p.sizes[0] {
			for range p.settle {
				if err := roundTrip(); err != nil {
					return err
				}
			}
		}
		if err := report(world, p, "pingpong", size, p.iters(size), 2, roundTrip); err != nil {
			return err
		}
	}
	return nil
}

// collectives measures each operation of p.ops at each size (barrier once).
func collectives(world *mpi.Comm, p plan) error {
	np := world.Size()
	if slices.Contains(p.ops, "barrier") {
		if err := report(world, p, "barrier", 0, p.maxIters, 1, world.Barrier); err != nil {
			return err
		}
	}
	for _, size := range p.sizes {
		v := make([]float64, size/8)
		for i := range v {
			v[i] = float64(world.Rank() + i)
		}
		out := make([]float64, len(v))
		blocks := make([][]float64, np)
		for j := range blocks {
			blocks[j] = slices.Clone(v)
		}
		// gathered and sendFlat, recvFlat: the buffers of GatherInto (read
		// on rank 0 only) and AlltoallInto, kept across calls.
		gathered := make([]float64, np*len(v))
		sendFlat := slices.Concat(blocks...)
		recvFlat := make([]float64, len(sendFlat))
		calls := map[string]func() error{
			"allreduce":       func() error { _, err := mpi.AllreduceSlice(world, v, mpi.Sum); return err },
			"allreduce_into":  func() error { return mpi.AllreduceSliceInto(world, v, out, mpi.Sum) },
			"allreduce_value": func() error { _, err := mpi.Allreduce(world, v[0], mpi.Sum); return err },
			"bcast":           func() error { _, err := mpi.Bcast(world, v, 0); return err },
			"bcast_into":      func() error { return mpi.BcastInto(world, out, 0) },
			"gather":          func() error { _, err := mpi.Gather(world, v, 0); return err },
			"gather_into":     func() error { return mpi.GatherInto(world, v, gathered, 0) },
			"alltoall":        func() error { _, err := mpi.Alltoall(world, blocks); return err },
			"alltoall_into":   func() error { return mpi.AlltoallInto(world, sendFlat, recvFlat) },
		}
		for _, op := range p.ops {
			call, ok := calls[op]
			if op == "barrier" || op == "allreduce_value" && size != 8 {
				continue
			}
			if !ok {
				return fmt.Errorf("-ops: unknown operation %q", op)
			}
			if err := report(world, p, op, size, p.iters(size), 1, call); err != nil {
				return err
			}
		}
	}
	return nil
}
