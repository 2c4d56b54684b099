package main

import (
	"fmt"

	"github.com/gorun-mpi/gorun/mpi"
)

func init() {
	register("bcasttest", 1, bcasttest)
	register("alltoall1", 2, alltoall1)
	register("coll2", 1, coll2)
	register("coll4", 1, coll4)
	register("scattern", 1, scattern)
	register("gather", 2, gather)
	register("reduce", 2, reduce)
	register("coll9", 1, coll9)
	register("scantst", 1, scantst)
	register("longuser", 1, longuser)
	register("allredmany", 1, allredmany)
	register("allred", 1, allred)
}

// bcasttest ports coll/bcasttest.c: Bcast of 100, 64 Ki, 128 Ki and 1 Mi
// ints from rank 0, five times each, into every rank's buffer (BcastInto)
// and as a value (Bcast).
func bcasttest(world *mpi.Comm) error {
	const reps = 5
	sizes := []int{100, 64 << 10, 128 << 10, 1 << 20}
	buf := make([]int32, sizes[len(sizes)-1])
	for n, size := range sizes {
		for rep := 0; rep < reps; rep++ {
			b := buf[:size]
			k := int32(n*reps + rep)
			for i := range b {
				if world.Rank() == 0 {
					b[i] = 1000000*k + int32(i)
				} else {
					b[i] = -1 - k
				}
			}
			var err error
			if rep%2 == 0 {
				err = mpi.BcastInto(world, b, 0)
			} else {
				b, err = mpi.Bcast(world, b, 0)
			}
			if err != nil {
				return err
			}
			if len(b) != size {
				return fmt.Errorf("size %d rep %d: got %d ints", size, rep, len(b))
			}
			for i, v := range b {
				if v != 1000000*k+int32(i) {
					return fmt.Errorf("size %d rep %d: buf[%d] = %d, expected %d", size, rep, i, v, 1000000*k+int32(i))
				}
			}
		}
	}
	return nil
}

// alltoall1 ports coll/alltoall1.c over each communicator, counts 1 to
// 32 Ki ints per part: part j of rank r holds j*size+r+i; rank r must get
// r*size+j+i from rank j.
func alltoall1(world *mpi.Comm) error {
	comms, err := intracomms(world, 2)
	if err != nil {
		return err
	}
	for _, nc := range comms {
		c := nc.c
		me, n := c.Rank(), c.Size()
		for count := 1; count < 65000; count *= 2 {
			parts := make([][]int32, n)
			for j := range parts {
				parts[j] = make([]int32, count)
				for i := range parts[j] {
					parts[j][i] = int32(j*n + me + i)
				}
			}
			got, err := mpi.Alltoall(c, parts)
			if err != nil {
				return fmt.Errorf("%s count %d: %w", nc.name, count, err)
			}
			for j := range got {
				if len(got[j]) != count {
					return fmt.Errorf("%s count %d: part from %d has %d ints", nc.name, count, j, len(got[j]))
				}
				for i, v := range got[j] {
					if v != int32(me*n+j+i) {
						return fmt.Errorf("%s count %d: recv[%d,%d] = %d, should be %d", nc.name, count, j, i, v, me*n+j+i)
					}
				}
			}
		}
	}
	return nil
}

// coll2 ports coll/coll2.c: a table of 10 rows shared out among the ranks
// (each paints its rows its color), gathered to each rank in turn (an
// allgather done with Gather): every rank then has every row. MPICH needs
// the rank count to divide 10; here the rows are shared unevenly when not.
func coll2(world *mpi.Comm) error {
	const rows = 10
	me, n := world.Rank(), world.Size()
	if n > rows {
		n = rows
	}
	color := 0
	if me >= n {
		color = mpi.Undefined
	}
	c, err := world.Split(color, me)
	if err != nil || c == nil {
		return err
	}
	lo, hi := me*rows/n, (me+1)*rows/n
	mine := make([]int32, 0, (hi-lo)*rows)
	for r := lo; r < hi; r++ {
		for j := 0; j < rows; j++ {
			mine = append(mine, int32(me+10))
		}
	}
	var table []int32
	for root := 0; root < n; root++ {
		t, err := mpi.Gather(c, mine, root)
		if err != nil {
			return err
		}
		if root == me {
			table = t
		} else if t != nil {
			return fmt.Errorf("gather to %d returned %d values on rank %d, want nil", root, len(t), me)
		}
	}
	if len(table) != rows*rows {
		return fmt.Errorf("table has %d values, want %d", len(table), rows*rows)
	}
	for r := 0; r < rows; r++ {
		owner := 0
		for (owner+1)*rows/n <= r {
			owner++
		}
		for j := 0; j < rows; j++ {
			if table[r*rows+j] != int32(owner+10) {
				return fmt.Errorf("table[%d][%d] = %d, want %d", r, j, table[r*rows+j], owner+10)
			}
		}
	}
	return nil
}

// coll4 ports coll/coll4.c: rank 0 scatters a table whose row i holds
// i+j; rank r must get row r (at most 10 ranks take part, the others are
// split off).
func coll4(world *mpi.Comm) error {
	const width = 10
	me := world.Rank()
	color := 0
	if me >= 10 {
		color = mpi.Undefined
	}
	c, err := world.Split(color, me)
	if err != nil || c == nil {
		return err
	}
	var table []int32
	if me == 0 {
		for i := 0; i < c.Size(); i++ {
			for j := 0; j < width; j++ {
				table = append(table, int32(i+j))
			}
		}
	}
	row, err := mpi.Scatter(c, table, 0)
	if err != nil {
		return err
	}
	if len(row) != width {
		return fmt.Errorf("row of %d values", len(row))
	}
	for i, v := range row {
		if v != int32(i+me) {
			return fmt.Errorf("row[%d] = %d, want %d", i, v, i+me)
		}
	}
	return nil
}

// scattern ports coll/scattern.c: Scatter from every root in turn of 12
// values per rank (MPICH scatters a strided vector; here the root picks
// the strided elements itself).
func scattern(world *mpi.Comm) error {
	const n, stride = 12, 10
	size := world.Size()
	for root := 0; root < size; root++ {
		var data []float64
		if world.Rank() == root {
			for r := 0; r < size; r++ {
				base := r * ((n-1)*stride + 1)
				for i := 0; i < n; i++ {
					data = append(data, float64(base+i*stride))
				}
			}
		}
		out, err := mpi.Scatter(world, data, root)
		if err != nil {
			return err
		}
		want := float64(world.Rank() * ((n-1)*stride + 1))
		if len(out) != n {
			return fmt.Errorf("root %d: got %d values", root, len(out))
		}
		for i, v := range out {
			if v != want {
				return fmt.Errorf("root %d: expected %v but found %v at %d", root, want, v, i)
			}
			want += stride
		}
	}
	return nil
}

// gather ports coll/gather.c: Gather of 12 values per rank to every root
// of each communicator, then a gather of empty parts.
func gather(world *mpi.Comm) error {
	const n = 12
	comms, err := intracomms(world, 2)
	if err != nil {
		return err
	}
	for _, nc := range comms {
		c := nc.c
		for root := 0; root < c.Size(); root++ {
			part := make([]float64, n)
			for i := range part {
				part[i] = float64(c.Rank()*n + i)
			}
			out, err := mpi.Gather(c, part, root)
			if err != nil {
				return err
			}
			if c.Rank() != root {
				continue
			}
			if len(out) != n*c.Size() {
				return fmt.Errorf("%s root %d: %d values", nc.name, root, len(out))
			}
			for i, v := range out {
				if v != float64(i) {
					return fmt.Errorf("%s root %d: vecout[%d] = %v", nc.name, root, i, v)
				}
			}
		}
	}
	out, err := mpi.Gather(world, []byte{}, 0)
	if err != nil {
		return fmt.Errorf("zero-length gather: %w", err)
	}
	return check(len(out) == 0, "zero-length gather gave %d bytes", len(out))
}

// reduce ports coll/reduce.c: ReduceSlice with Sum to every root of each
// communicator, 1 to 64 Ki ints with buf[i] = i; the root must get
// i*size.
func reduce(world *mpi.Comm) error {
	comms, err := intracomms(world, 2)
	if err != nil {
		return err
	}
	for _, nc := range comms {
		c := nc.c
		for count := 1; count < 130000; count *= 2 {
			buf := make([]int32, count)
			for i := range buf {
				buf[i] = int32(i)
			}
			for root := 0; root < c.Size(); root++ {
				out, err := mpi.ReduceSlice(c, buf, mpi.Sum, root)
				if err != nil {
					return err
				}
				if c.Rank() != root {
					continue
				}
				if len(out) != count {
					return fmt.Errorf("%s count %d root %d: %d values", nc.name, count, root, len(out))
				}
				for i, v := range out {
					if v != int32(i*c.Size()) {
						return fmt.Errorf("%s count %d root %d: buf[%d] = %d expected %d", nc.name, count, root, i, v, i*c.Size())
					}
				}
			}
		}
	}
	return nil
}

// coll9 ports coll/coll9.c: Reduce with a user operator to rank 0, then
// Bcast of the result.
func coll9(world *mpi.Comm) error {
	addem := func(a, b int) int { return a + b }
	r, err := mpi.Reduce(world, world.Rank(), addem, 0)
	if err != nil {
		return err
	}
	r, err = mpi.Bcast(world, r, 0)
	if err != nil {
		return err
	}
	n := world.Size()
	return check(r == n*(n-1)/2, "result %d, want %d", r, n*(n-1)/2)
}

// scantst ports coll/scantst.c (and coll11.c): Scan with Sum and with a
// user sum, twice each, and with a non-commutative operator that fails
// when applied out of rank order.
func scantst(world *mpi.Comm) error {
	me := world.Rank()
	want := me * (me + 1) / 2
	addem := func(a, b int) int { return a + b }
	for i, op := range []func(a, b int) int{mpi.Sum[int], mpi.Sum[int], addem, addem} {
		got, err := mpi.Scan(world, me, op)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("scan %d: %d, want %d", i, got, want)
		}
	}
	const bad = 100000
	// MPICH's assoc(invec, inoutvec): invec is the lower ranks' part; here
	// a is the left (lower ranks) operand.
	assoc := func(a, b int) int {
		if b <= a {
			return bad
		}
		return a
	}
	got, err := mpi.Scan(world, me, assoc)
	if err != nil {
		return err
	}
	return check(got != bad && got == 0, "scan with a non-commutative operator: %d, want 0", got)
}

// longuser ports coll/longuser.c: AllreduceSlice with a user operator over
// 1 to 64 Ki float64, +1 on odd ranks and -1 on even ones.
func longuser(world *mpi.Comm) error {
	add := func(a, b float64) float64 { return a + b }
	want := 0.0
	if world.Size()%2 == 1 {
		want = -1
	}
	v := -1.0
	if world.Rank()%2 == 1 {
		v = 1
	}
	for size := 1; size < 100000; size *= 2 {
		in := make([]float64, size)
		for i := range in {
			in[i] = v
		}
		out, err := mpi.AllreduceSlice(world, in, add)
		if err != nil {
			return err
		}
		if len(out) != size {
			return fmt.Errorf("size %d: %d values", size, len(out))
		}
		for i, x := range out {
			if x != want {
				return fmt.Errorf("size %d: outbuf[%d] = %v, should = %v", size, i, x, want)
			}
		}
	}
	return nil
}

// allredmany ports coll/allredmany.c: many Allreduces of one float64 in a
// row, a flood of small collectives (MPICH: 10000; here 3000).
func allredmany(world *mpi.Comm) error {
	for i := 0; i < 3000; i++ {
		s, err := mpi.Allreduce(world, 10.0, mpi.Sum)
		if err != nil {
			return err
		}
		if s != 10*float64(world.Size()) {
			return fmt.Errorf("allreduce %d: %v", i, s)
		}
	}
	return nil
}

// allred ports the core of coll/allred.c: AllreduceSlice with Sum, Prod,
// Max and Min over several element types and 10 elements per rank, with
// values in the spirit of the MPICH test's (i on every rank for sum, small
// factors on the first three ranks and ones elsewhere for prod, rank+i for
// max and min).
func allred(world *mpi.Comm) error {
	if err := allredOf[int32](world); err != nil {
		return fmt.Errorf("int32: %w", err)
	}
	if err := allredOf[int64](world); err != nil {
		return fmt.Errorf("int64: %w", err)
	}
	if err := allredOf[uint16](world); err != nil {
		return fmt.Errorf("uint16: %w", err)
	}
	if err := allredOf[float64](world); err != nil {
		return fmt.Errorf("float64: %w", err)
	}
	if err := allredOf[float32](world); err != nil {
		return fmt.Errorf("float32: %w", err)
	}
	return nil
}

func allredOf[T mpi.Number](world *mpi.Comm) error {
	const count = 10
	me, n := world.Rank(), world.Size()
	in := make([]T, count)
	type test struct {
		name string
		op   func(a, b T) T
		in   func(i int) T
		want func(i int) T
	}
	tests := []test{
		{"sum", mpi.Sum[T], func(i int) T { return T(i) }, func(i int) T { return T(i * n) }},
		{"prod", mpi.Prod[T], func(i int) T {
			if me < 3 {
				return T(i%3 + 1)
			}
			return 1
		}, func(i int) T {
			v := T(1)
			for r := 0; r < min(n, 3); r++ {
				v *= T(i%3 + 1)
			}
			return v
		}},
		{"max", mpi.Max[T], func(i int) T { return T(me + i) }, func(i int) T { return T(n - 1 + i) }},
		{"min", mpi.Min[T], func(i int) T { return T(me + i) }, func(i int) T { return T(i) }},
	}
	for _, tc := range tests {
		for i := range in {
			in[i] = tc.in(i)
		}
		out, err := mpi.AllreduceSlice(world, in, tc.op)
		if err != nil {
			return err
		}
		if len(out) != count {
			return fmt.Errorf("%s: %d values", tc.name, len(out))
		}
		for i, v := range out {
			if v != tc.want(i) {
				return fmt.Errorf("%s: out[%d] = %v, want %v", tc.name, i, v, tc.want(i))
			}
		}
	}
	return nil
}
