package main

import (
	"errors"
	"fmt"
	"runtime"
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
	if slices.Contains(p.ops, "barrier") {
		if err := report(world, p, "barrier", 0, p.maxIters, 1, world.Barrier); err != nil {
			return err
		}
	}
	for _, size := range p.sizes {
		for _, op := range p.ops {
			if op == "barrier" || op == "allreduce_value" && size != 8 {
				continue
			}
			call, err := collectiveCall(world, op, size)
			if err != nil {
				return err
			}
			if err := report(world, p, op, size, p.iters(size), 1, call); err != nil {
				return err
			}
			// The next operation starts from a heap without this one's
			// buffers and garbage: an allocating form's cost depends on
			// the live heap, which here is what the operation needs.
			runtime.GC()
		}
	}
	return nil
}

// collectiveCall returns one call of collective operation op on messages
// of size bytes, with only the buffers op needs, kept across calls.
func collectiveCall(world *mpi.Comm, op string, size int) (func() error, error) {
	np := world.Size()
	v := make([]float64, size/8)
	for i := range v {
		v[i] = float64(world.Rank() + i)
	}
	switch op {
	case "allreduce":
		return func() error { _, err := mpi.AllreduceSlice(world, v, mpi.Sum); return err }, nil
	case "allreduce_into":
		out := make([]float64, len(v))
		return func() error { return mpi.AllreduceSliceInto(world, v, out, mpi.Sum) }, nil
	case "allreduce_value":
		return func() error { _, err := mpi.Allreduce(world, v[0], mpi.Sum); return err }, nil
	case "bcast":
		return func() error { _, err := mpi.Bcast(world, v, 0); return err }, nil
	case "bcast_into":
		out := make([]float64, len(v))
		return func() error { return mpi.BcastInto(world, out, 0) }, nil
	case "gather":
		return func() error { _, err := mpi.Gather(world, v, 0); return err }, nil
	case "gather_into":
		gathered := make([]float64, np*len(v)) // read on rank 0 only
		return func() error { return mpi.GatherInto(world, v, gathered, 0) }, nil
	case "alltoall":
		blocks := make([][]float64, np)
		for j := range blocks {
			blocks[j] = slices.Clone(v)
		}
		return func() error { _, err := mpi.Alltoall(world, blocks); return err }, nil
	case "alltoall_into":
		sendFlat := slices.Concat(slices.Repeat([][]float64{v}, np)...)
		recvFlat := make([]float64, len(sendFlat))
		return func() error { return mpi.AlltoallInto(world, sendFlat, recvFlat) }, nil
	}
	return nil, fmt.Errorf("-ops: unknown operation %q", op)
}
