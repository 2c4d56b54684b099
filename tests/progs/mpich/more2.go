package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/gorun-mpi/gorun/mpi"
)

func init() {
	register("large-tag", 2, largeTag)
	register("huge-underflow", 2, hugeUnderflow)
	register("manylmt", 2, manylmt)
	register("allgather3", 2, allgather3)
	register("bcastzerotype", 1, bcastZero)
	register("allred-float", 3, allredFloat)
}

// largeTag ports pt2pt/large_tag.c: messages with the largest tags
// (mpi.MaxTag, the counterpart of MPI_TAG_UB, at least 32767), and a tag
// above it refused with ErrTag.
func largeTag(world *mpi.Comm) error {
	if mpi.MaxTag < 32767 {
		return fmt.Errorf("MaxTag %d < 32767", mpi.MaxTag)
	}
	// Where int has 32 bits, MaxTag is the largest int: no tag lies above it.
	if above := mpi.MaxTag; above < math.MaxInt {
		above++
		if err := world.Send(1, 1-min(world.Rank(), 1), above); !errors.Is(err, mpi.ErrTag) {
			return fmt.Errorf("send with tag MaxTag+1: %v, want ErrTag", err)
		}
	}
	tag := mpi.MaxTag
	for x := 0; x < 5; x++ {
		switch world.Rank() {
		case 0:
			b := make([]int32, 16)
			for i := range b {
				b[i] = int32(x*16 + i)
			}
			if err := world.Send(b, 1, tag); err != nil {
				return err
			}
		case 1:
			var b []int32
			st, err := world.Recv(&b, 0, tag)
			if err != nil {
				return err
			}
			if st.Tag != tag || len(b) != 16 || b[15] != int32(x*16+15) {
				return fmt.Errorf("tag %d: status %+v, %v", tag, st, b)
			}
		}
		tag--
	}
	return nil
}

// hugeUnderflow ports pt2pt/huge_underflow.c: a 1-byte message received
// into a 10 MiB buffer (here: a slice with 10 MiB of capacity, which must
// come back holding the one byte).
func hugeUnderflow(world *mpi.Comm) error {
	dst := world.Size() - 1
	switch world.Rank() {
	case 0:
		if err := world.Send([]byte{42}, dst, 0); err != nil {
			return err
		}
	case dst:
		buf := make([]byte, 10<<20)
		st, err := world.Recv(&buf, 0, 0)
		if err != nil {
			return err
		}
		if len(buf) != 1 || buf[0] != 42 || st.Size != 1 {
			return fmt.Errorf("got %d bytes (status %+v), want the 1 byte sent", len(buf), st)
		}
	}
	return world.Barrier()
}

// manylmt ports pt2pt/manylmt.c: many outstanding large transfers with
// specific receives posted (MPICH: 32 of 10 MiB; here 8 of 4 MiB, plus the
// same into preallocated buffers), checking each block's content.
func manylmt(world *mpi.Comm) error {
	const tries, block = 8, 4 << 20
	dst := world.Size() - 1
	for _, prealloc := range []bool{false, true} {
		switch world.Rank() {
		case 0:
			reqs := make([]*mpi.Request, tries)
			for i := range reqs {
				reqs[i] = world.Isend(bytes.Repeat([]byte{byte(i + 1)}, block), dst, 0)
			}
			if err := mpi.WaitAll(reqs...); err != nil {
				return err
			}
		case dst:
			bufs := make([][]byte, tries)
			reqs := make([]*mpi.Request, tries)
			for i := range reqs {
				if prealloc {
					bufs[i] = make([]byte, block)
				}
				reqs[i] = world.Irecv(&bufs[i], 0, 0)
			}
			if err := mpi.WaitAll(reqs...); err != nil {
				return err
			}
			for i, b := range bufs {
				if len(b) != block || b[0] != byte(i+1) || b[block-1] != byte(i+1) {
					return fmt.Errorf("receive %d (preallocated %v) got %d bytes of block %d: order broken", i, prealloc, len(b), int(b[0])-1)
				}
			}
		}
	}
	return nil
}

// allgather3 ports coll/allgather3.c: Allgather of 1 to 8 Ki float64 per
// rank on each communicator, then an empty Allgather.
func allgather3(world *mpi.Comm) error {
	comms, err := intracomms(world, 2)
	if err != nil {
		return err
	}
	for _, nc := range comms {
		c := nc.c
		for count := 1; count < 9000; count *= 2 {
			in := make([]float64, count)
			for i := range in {
				in[i] = float64(c.Rank()*count + i)
			}
			out, err := mpi.Allgather(c, in)
			if err != nil {
				return err
			}
			if len(out) != count*c.Size() {
				return fmt.Errorf("%s count %d: %d values", nc.name, count, len(out))
			}
			for i, v := range out {
				if v != float64(i) {
					return fmt.Errorf("%s count %d: vecout[%d] = %v", nc.name, count, i, v)
				}
			}
		}
	}
	out, err := mpi.Allgather(world, []float64{})
	if err != nil {
		return fmt.Errorf("empty Allgather: %w", err)
	}
	return check(len(out) == 0, "empty Allgather gave %d values", len(out))
}

// bcastZero ports coll/bcastzerotype.c: broadcasts of nothing (an empty
// slice into every rank's buffer, an empty struct, empty slices as values)
// must work and leave other data alone; so must empty reductions.
func bcastZero(world *mpi.Comm) error {
	me := world.Rank()
	buf := make([]int32, 10)
	for i := range buf {
		buf[i] = int32(me*10 + i)
	}
	if err := mpi.BcastInto(world, buf[:0], 0); err != nil {
		return fmt.Errorf("BcastInto of an empty slice: %w", err)
	}
	for i, v := range buf {
		if v != int32(me*10+i) {
			return fmt.Errorf("buffer changed by an empty BcastInto: [%d] = %d", i, v)
		}
	}
	if _, err := mpi.Bcast(world, struct{}{}, 0); err != nil {
		return fmt.Errorf("bcast of struct{}: %w", err)
	}
	got, err := mpi.Bcast(world, []float64{}, 0)
	if err != nil || len(got) != 0 {
		return fmt.Errorf("bcast of an empty slice: %v %v", got, err)
	}
	sum, err := mpi.AllreduceSlice(world, []float64{}, mpi.Sum)
	if err != nil || len(sum) != 0 {
		return fmt.Errorf("AllreduceSlice of an empty slice: %v %v", sum, err)
	}
	parts, err := mpi.Alltoall(world, make([][]int32, world.Size()))
	if err != nil || len(parts) != world.Size() {
		return fmt.Errorf("alltoall of empty parts: %d parts, %v", len(parts), err)
	}
	for j, p := range parts {
		if len(p) != 0 {
			return fmt.Errorf("alltoall of empty parts: part %d has %d values", j, len(p))
		}
	}
	return nil
}

// allredFloat ports coll/allred_float.c (MPICH, Apache-2.0): a float32
// AllreduceSlice mixing BIG, -BIG and TINY values, whose sum depends on
// the order of additions, must give bit-for-bit the same result on every
// rank (checked by gathering the results at rank 0), for every placement
// of BIG and -BIG. The port runs it on 8 elements, as MPICH does, and on
// 64 Ki (where the ring and Rabenseifner algorithms take over).
func allredFloat(world *mpi.Comm) error {
	const big, tiny = 1e6, 1e-2
	me, n := world.Rank(), world.Size()
	for _, count := range []int{8, 64 << 10} {
		for pos1 := 0; pos1 < n; pos1++ {
			for pos2 := pos1 + 1; pos2 < n; pos2++ {
				buf := make([]float32, count)
				for i := range buf {
					switch me {
					case pos1:
						buf[i] = big
					case pos2:
						buf[i] = -big
					default:
						buf[i] = tiny
					}
					if count > 8 {
						buf[i] *= float32(1 + i%7) // vary along the vector
					}
				}
				out, err := mpi.AllreduceSlice(world, buf, mpi.Sum)
				if err != nil {
					return err
				}
				bits := make([]uint32, len(out))
				for i, v := range out {
					bits[i] = math.Float32bits(v)
				}
				all, err := mpi.Gather(world, bits, 0)
				if err != nil {
					return err
				}
				if me != 0 {
					continue
				}
				for r := 0; r < n; r++ {
					for j := 0; j < count; j++ {
						if all[r*count+j] != bits[j] {
							return fmt.Errorf("%d elements, BIG at ranks (%d, %d): result [%d] from rank %d is %v, rank 0 has %v",
								count, pos1, pos2, j, r, math.Float32frombits(all[r*count+j]), out[j])
						}
					}
				}
			}
		}
	}
	return nil
}
