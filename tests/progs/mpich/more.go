package main

import (
	"fmt"

	"github.com/gorun-mpi/gorun/mpi"
)

func init() {
	register("allred3", 2, allred3)
	register("coll12", 1, coll12)
	register("sendrecv3", 2, sendrecv3)
}

// matMul multiplies n×n matrices stored row by row: a·b.
func matMul(a, b []int32, n int) []int32 {
	c := make([]int32, n*n)
	for i := 0; i < n; i++ {
		for k := 0; k < n; k++ {
			for j := 0; j < n; j++ {
				c[i*n+j] += a[i*n+k] * b[k*n+j]
			}
		}
	}
	return c
}

// permutation returns rank r's matrix of coll/allred3.c: for r < n-1 the
// permutation exchanging r and r+1, for the last rank the shift right by
// one; their product in rank order is the identity.
func permutation(r, n int) []int32 {
	m := make([]int32, n*n)
	if r == n-1 {
		for i := 0; i < n; i++ {
			m[i*n+(i+1)%n] = 1
		}
		return m
	}
	for i := 0; i < n; i++ {
		switch i {
		case r:
			m[i*n+(i+1)%n] = 1
		case (r + 1) % n:
			m[i*n+(i+n-1)%n] = 1
		default:
			m[i*n+i] = 1
		}
	}
	return m
}

// allred3 ports coll/allred3.c: Allreduce with a non-commutative operator
// (matrix product) on each communicator; applied in rank order, the
// product of the ranks' permutation matrices is the identity.
func allred3(world *mpi.Comm) error {
	comms, err := intracomms(world, 2)
	if err != nil {
		return err
	}
	for _, nc := range comms {
		c := nc.c
		n := c.Size()
		mul := func(a, b []int32) []int32 { return matMul(a, b, n) }
		got, err := mpi.Allreduce(c, permutation(c.Rank(), n), mul)
		if err != nil {
			return err
		}
		if len(got) != n*n {
			return fmt.Errorf("%s: %d values", nc.name, len(got))
		}
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				want := int32(0)
				if i == j {
					want = 1
				}
				if got[i*n+j] != want {
					return fmt.Errorf("%s: mat[%d,%d] = %d, expected %d (operator applied out of rank order?)", nc.name, i, j, got[i*n+j], want)
				}
			}
		}
	}
	return nil
}

// valueLoc is MPI's DOUBLE_INT pair for MAXLOC and MINLOC.
type valueLoc struct {
	V   float64
	Loc int
}

// coll12 ports coll/coll12.c: MAXLOC with ReduceSlice to rank 0 and Bcast,
// and MINLOC with AllreduceSlice, as user operators on a struct.
func coll12(world *mpi.Comm) error {
	const size = 2
	me, n := world.Rank(), world.Size()
	maxloc := func(a, b valueLoc) valueLoc {
		if b.V > a.V || (b.V == a.V && b.Loc < a.Loc) {
			return b
		}
		return a
	}
	minloc := func(a, b valueLoc) valueLoc {
		if b.V < a.V || (b.V == a.V && b.Loc < a.Loc) {
			return b
		}
		return a
	}
	in := make([]valueLoc, size)
	for i := range in {
		in[i] = valueLoc{0, me}
		if i >= me {
			in[i].V = float64(me) + 1
		}
	}
	out, err := mpi.ReduceSlice(world, in, maxloc, 0)
	if err != nil {
		return err
	}
	if out, err = mpi.Bcast(world, out, 0); err != nil {
		return err
	}
	for i := 0; i < size; i++ {
		if i%n == me && (len(out) != size || out[i].Loc != me) {
			return fmt.Errorf("MAXLOC: %v, want location %d at %d", out, me, i)
		}
	}
	for i := range in {
		in[i] = valueLoc{0, me}
		if i >= me {
			in[i].V = -float64(me) - 1
		}
	}
	out, err = mpi.AllreduceSlice(world, in, minloc)
	if err != nil {
		return err
	}
	for i := 0; i < size; i++ {
		if i%n == me && (len(out) != size || out[i].Loc != me) {
			return fmt.Errorf("MINLOC: %v, want location %d at %d", out, me, i)
		}
	}
	return nil
}

// sendrecv3 ports pt2pt/sendrecv3.c: ranks 0 and 1 each Isend a batch of
// messages (100 of 100 ints ... 4 of 100000 ints) to the other head to
// head, then receive; a second time with the receiver late. The Isends
// must not wait for the receiver. MPICH makes rank 1 sleep a second and
// allows the Isends 0.5 s, a timer that failed here on a loaded 2-core
// machine (1.75 s for ten 40 KB Isends, with four jobs and two CPU hogs
// sharing the cores) without anything being wrong. Here the second pass
// makes the receiver late by a fact instead: each rank posts its Isends,
// then tells the other so (a Sendrecv of another tag, which --sync-sends
// cannot deadlock), and only then receives. An Isend that waited for its
// receive would never return: the job would deadlock and fail.
func sendrecv3(world *mpi.Comm) error {
	sizes := []int{100, 1000, 10000, 100000}
	counts := []int{100, 10, 10, 4}
	me := world.Rank()
	if me > 1 {
		return nil
	}
	partner := 1 - me
	for test, size := range sizes {
		for pass := 0; pass < 2; pass++ {
			var none []int32
			if _, err := world.Sendrecv([]int32{}, partner, 10, &none, partner, 10); err != nil {
				return err
			}
			reqs := make([]*mpi.Request, counts[test])
			for i := range reqs {
				b := make([]int32, size)
				b[0], b[size-1] = int32(i), int32(me)
				reqs[i] = world.Isend(b, partner, test)
			}
			if pass == 1 {
				var posted int
				if _, err := world.Sendrecv(len(reqs), partner, 100+test, &posted, partner, 100+test); err != nil {
					return err
				}
				if posted != counts[test] {
					return fmt.Errorf("the partner says it posted %d Isends of size %d, want %d", posted, size, counts[test])
				}
			}
			for i := range reqs {
				var b []int32
				if _, err := world.Recv(&b, partner, test); err != nil {
					return err
				}
				if len(b) != size || b[0] != int32(i) || b[size-1] != int32(partner) {
					return fmt.Errorf("message %d of size %d: %d ints, first %d", i, size, len(b), b[0])
				}
			}
			if err := mpi.WaitAll(reqs...); err != nil {
				return err
			}
		}
	}
	return nil
}

func init() {
	register("coll10", 1, coll10)
	register("bcast2", 1, bcast2)
}

// coll10 ports coll/coll10.c: Reduce to the last rank with a
// non-commutative operator that fails when applied out of rank order, then
// Bcast from there. The port also reduces allred3's permutation matrices
// (their product in rank order is the identity) to every root of each
// communicator.
func coll10(world *mpi.Comm) error {
	const bad = 100000
	assoc := func(a, b int) int {
		if b <= a {
			return bad
		}
		return a
	}
	last := world.Size() - 1
	r, err := mpi.Reduce(world, world.Rank(), assoc, last)
	if err != nil {
		return err
	}
	if r, err = mpi.Bcast(world, r, last); err != nil {
		return err
	}
	if r == bad {
		return fmt.Errorf("reduce with a non-commutative operator applied it out of rank order")
	}
	comms, err := intracomms(world, 1)
	if err != nil {
		return err
	}
	for _, nc := range comms {
		c := nc.c
		n := c.Size()
		mul := func(a, b []int32) []int32 { return matMul(a, b, n) }
		for root := 0; root < n; root++ {
			got, err := mpi.Reduce(c, permutation(c.Rank(), n), mul, root)
			if err != nil {
				return err
			}
			if c.Rank() != root {
				continue
			}
			for i := 0; i < n*n; i++ {
				want := int32(0)
				if i%(n+1) == 0 {
					want = 1
				}
				if len(got) != n*n || got[i] != want {
					return fmt.Errorf("%s root %d: product %v is not the identity", nc.name, root, got)
				}
			}
		}
	}
	return nil
}

// bcast2 ports the idea of coll/bcast2.c and bcast3.c: Bcast from every
// root of each communicator, of values of several types and sizes (up to
// 1 MiB, across the eager limit and the shared-memory pieces), as values
// and into buffers.
func bcast2(world *mpi.Comm) error {
	comms, err := intracomms(world, 1)
	if err != nil {
		return err
	}
	for _, nc := range comms {
		c := nc.c
		for root := 0; root < c.Size(); root++ {
			for _, count := range []int{1, 100, 4000, 70 << 10, 1 << 20} {
				buf := make([]byte, count)
				if c.Rank() == root {
					for i := range buf {
						buf[i] = byte(i*7 + root)
					}
				}
				if err := mpi.BcastInto(c, buf, root); err != nil {
					return err
				}
				for i, v := range buf {
					if v != byte(i*7+root) {
						return fmt.Errorf("%s root %d, %d bytes: [%d] = %d", nc.name, root, count, i, v)
					}
				}
				f := make([]float64, count/8+1)
				for i := range f {
					f[i] = float64(i * (c.Rank() + 1))
				}
				got, err := mpi.Bcast(c, f, root)
				if err != nil {
					return err
				}
				for i, v := range got {
					if v != float64(i*(root+1)) || len(got) != len(f) {
						return fmt.Errorf("%s root %d, %d float64: [%d] = %v", nc.name, root, len(f), i, v)
					}
				}
			}
			s, err := mpi.Bcast(c, fmt.Sprintf("from %d", c.Rank()), root)
			if err != nil || s != fmt.Sprintf("from %d", root) {
				return fmt.Errorf("%s root %d: string %q %v", nc.name, root, s, err)
			}
		}
	}
	return nil
}
