// Command collectives is the integration tests' collective program: every
// rank runs every collective of the mpi package, checks its result against
// what the rules say it must be, and prints "rank R ok NAME" per check (or
// "rank R FAIL NAME: why"). It exits 1 if any check failed.
//
// "collectives mismatch MODE COMM" instead has the ranks call mismatched
// collectives (see mismatch.go) and exits 3 once every rank has reported;
// "collectives rounds N" runs N rounds of the collectives that go through
// shared memory on a host (rounds.go). "collectives largest N" runs every
// check with vectors of at most N elements (the largest AllreduceSlice is
// otherwise 3,000,000 float64, the largest BcastInto 1,100,000).
package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gorun-mpi/gorun/mpi"
)

type check struct {
	name string
	run  func(w *mpi.Comm) error
}

func main() {
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if len(os.Args) == 4 && os.Args[1] == "mismatch" {
		os.Exit(mismatch(world, os.Args[2], os.Args[3]))
	}
	if len(os.Args) == 3 && os.Args[1] == "rounds" {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		status := rounds(world, n)
		if err := mpi.Finalize(); err != nil {
			fmt.Fprintln(os.Stderr, "collectives: failed", err)
			status = 1
		}
		os.Exit(status)
	}
	largest := largestDefault
	if len(os.Args) == 3 && os.Args[1] == "largest" {
		if largest, err = strconv.Atoi(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	failed := false
	for _, c := range checks(largest) {
		if err := c.run(world); err != nil {
			fmt.Printf("rank %d FAIL %s: %v\n", world.Rank(), c.name, err)
			failed = true
		} else {
			fmt.Printf("rank %d ok %s\n", world.Rank(), c.name)
		}
		// Keep going: the next check starts on a common footing.
		if err := world.Barrier(); err != nil {
			fmt.Printf("rank %d FAIL barrier after %s: %v\n", world.Rank(), c.name, err)
			os.Exit(1)
		}
	}
	if err := mpi.Finalize(); err != nil || failed {
		fmt.Fprintln(os.Stderr, "collectives: failed", err)
		os.Exit(1)
	}
}

// largestDefault is the length of the largest vector the checks reduce:
// 24 MB of float64, more than the shared result area holds.
const largestDefault = 3_000_000

// checks are the checks in the order they run; largest bounds the length
// of the vectors they reduce and broadcast into.
func checks(largest int) []check {
	return []check{
		{"bcast", func(w *mpi.Comm) error { return checkBcast(w, largest) }},
		{"scatter", checkScatter},
		{"gather", checkGather},
		{"allgather", checkAllgather},
		{"alltoall", checkAlltoall},
		{"reduce", checkReduce},
		{"allreduce", checkAllreduce},
		{"reduce-slice", checkReduceSlice},
		{"allreduce-slice", func(w *mpi.Comm) error { return checkAllreduceSlice(w, largest) }},
		{"scan", checkScan},
		{"noncommutative", checkNonCommutative},
		{"float-agreement", checkFloatAgreement},
		{"split-dup", checkSplitDup},
		{"bad-input", checkBadInput},
	}
}

type record struct {
	Name  string
	Value []int
}

func checkBcast(w *mpi.Comm, largest int) error {
	root := w.Size() - 1
	var small record
	if w.Rank() == root {
		small = record{Name: "from root", Value: []int{1, 2, 3}}
	}
	got, err := mpi.Bcast(w, small, root)
	if err != nil {
		return err
	}
	if got.Name != "from root" || !slices.Equal(got.Value, []int{1, 2, 3}) {
		return fmt.Errorf("small: got %+v", got)
	}
	for _, n := range []int{0, 1, 300_000} { // 300,000 float64: 2.4 MB
		var v []float64
		if w.Rank() == 0 {
			v = floats(n)
			for i := range v {
				v[i] = float64(i) * 0.5
			}
		}
		got, err := mpi.Bcast(w, v, 0)
		if err != nil {
			return err
		}
		if len(got) != n || (n > 0 && got[n-1] != float64(n-1)*0.5) {
			return fmt.Errorf("%d floats: got %d", n, len(got))
		}
	}
	return checkBcastInto(w, largest)
}

// checkBcastInto: root's vector lands in every rank's own buffer, small, in
// shared memory (2.4 MB) and past its slot by messages (8.8 MB); a short
// buffer on rank 1 fails there alone. Vectors longer than largest are
// left out.
func checkBcastInto(w *mpi.Comm, largest int) error {
	root := w.Size() / 2
	for _, n := range []int{0, 1, 300_000, 1_100_000} {
		if n > largest {
			break
		}
		buf := floats(n)
		for i := range buf {
			buf[i] = -1
			if w.Rank() == root {
				buf[i] = float64(i) * 0.25
			}
		}
		if err := mpi.BcastInto(w, buf, root); err != nil {
			return fmt.Errorf("BcastInto of %d floats: %w", n, err)
		}
		for i, x := range buf {
			if x != float64(i)*0.25 {
				return fmt.Errorf("BcastInto of %d floats: element %d = %v", n, i, x)
			}
		}
	}
	if w.Size() == 1 {
		return nil
	}
	buf := make([]float64, 300_000)
	if w.Rank() == 1 {
		buf = buf[:1000]
	}
	err := mpi.BcastInto(w, buf, 0)
	switch {
	case w.Rank() == 1 && !errors.Is(err, mpi.ErrLengthMismatch):
		return fmt.Errorf("BcastInto into a short buffer: got %v, want ErrLengthMismatch", err)
	case w.Rank() != 1 && err != nil:
		return fmt.Errorf("BcastInto with a short buffer on rank 1: %w", err)
	}
	return nil
}

func checkScatter(w *mpi.Comm) error {
	for _, n := range []int{0, 1, 10*w.Size() + 3, 100_000} {
		var data []int32
		if w.Rank() == 0 {
			data = make([]int32, n)
			for i := range data {
				data[i] = int32(i)
			}
		}
		part, err := mpi.Scatter(w, data, 0)
		if err != nil {
			return err
		}
		// Parts differ by at most one, longer parts first.
		base, extra := n/w.Size(), n%w.Size()
		start, length := w.Rank()*base+min(w.Rank(), extra), base
		if w.Rank() < extra {
			length++
		}
		if len(part) != length {
			return fmt.Errorf("n=%d: part of %d, want %d", n, len(part), length)
		}
		for i, x := range part {
			if x != int32(start+i) {
				return fmt.Errorf("n=%d: part[%d]=%d, want %d", n, i, x, start+i)
			}
		}
	}
	return nil
}

// partOf is rank r's part in gather checks: r+1 strings (lengths differ).
func partOf(r int) []string {
	p := make([]string, r+1)
	for i := range p {
		p[i] = fmt.Sprintf("%d.%d", r, i)
	}
	return p
}

func joined(size int) []string {
	var all []string
	for r := range size {
		all = append(all, partOf(r)...)
	}
	return all
}

func checkGather(w *mpi.Comm) error {
	root := w.Size() / 2
	got, err := mpi.Gather(w, partOf(w.Rank()), root)
	if err != nil {
		return err
	}
	if w.Rank() == root && !slices.Equal(got, joined(w.Size())) {
		return fmt.Errorf("root got %v", got)
	}
	if w.Rank() != root && got != nil {
		return fmt.Errorf("non-root got %v, want nil", got)
	}
	return nil
}

func checkAllgather(w *mpi.Comm) error {
	got, err := mpi.Allgather(w, partOf(w.Rank()))
	if err != nil {
		return err
	}
	if !slices.Equal(got, joined(w.Size())) {
		return fmt.Errorf("got %v", got)
	}
	// 50,000 float64 a rank up to 8 ranks; beyond, parts shrink so that
	// the gathered vector stays 400,000 (3.2 MB, still several of the
	// arena's 1 MiB slots): at 64 ranks the full parts made each rank
	// allocate and fill 25.6 MB, 1.6 GB over the job, a third of the
	// 64-rank job's time over NATS (18.5 s with them, 12.5 without).
	big := make([]float64, 400_000/max(8, w.Size()))
	for i := range big {
		big[i] = float64(w.Rank())
	}
	all, err := mpi.Allgather(w, big)
	if err != nil {
		return err
	}
	for r := range w.Size() {
		if len(all) != len(big)*w.Size() || all[r*len(big)] != float64(r) || all[(r+1)*len(big)-1] != float64(r) {
			return fmt.Errorf("large allgather wrong at rank %d's part", r)
		}
	}
	return nil
}

func checkAlltoall(w *mpi.Comm) error {
	parts := make([][]int, w.Size())
	for j := range parts {
		for k := range j + w.Rank() {
			parts[j] = append(parts[j], 1000*w.Rank()+100*j+k)
		}
	}
	got, err := mpi.Alltoall(w, parts)
	if err != nil {
		return err
	}
	for i := range w.Size() {
		want := []int{}
		for k := range w.Rank() + i {
			want = append(want, 1000*i+100*w.Rank()+k)
		}
		if len(got) != w.Size() || !slices.Equal(got[i], want) && len(want) > 0 {
			return fmt.Errorf("from %d: got %v, want %v", i, got[i], want)
		}
	}
	return nil
}

func checkReduce(w *mpi.Comm) error {
	root := 1 % w.Size()
	n := w.Size()
	sum, err := mpi.Reduce(w, w.Rank()+1, mpi.Sum, root)
	if err != nil {
		return err
	}
	want := 0
	if w.Rank() == root {
		want = n * (n + 1) / 2
	}
	if sum != want {
		return fmt.Errorf("sum %d, want %d", sum, want)
	}
	prod, err := mpi.Reduce(w, int64(w.Rank()+1), mpi.Prod, 0)
	if err != nil {
		return err
	}
	fact := int64(1)
	for i := 2; i <= n; i++ {
		fact *= int64(i)
	}
	if w.Rank() == 0 && prod != fact {
		return fmt.Errorf("product %d, want %d", prod, fact)
	}
	return nil
}

func checkAllreduce(w *mpi.Comm) error {
	mx, err := mpi.Allreduce(w, float64(w.Rank())*1.5, mpi.Max)
	if err != nil {
		return err
	}
	mn, err := mpi.Allreduce(w, int32(w.Rank())-3, mpi.Min)
	if err != nil {
		return err
	}
	if mx != float64(w.Size()-1)*1.5 || mn != -3 {
		return fmt.Errorf("max %v min %v", mx, mn)
	}
	return nil
}

// vector is rank's contribution to slice reductions: element i is
// rank*i mod 97, so sums are exact in float64.
func vector(rank, n int) []float64 {
	v := floats(n)
	for i := range v {
		v[i] = float64((rank * i) % 97)
	}
	return v
}

// vectorSums returns the element-wise sum of vector over ranks 0..size-1
// by element index mod 97: element i of the sum is vectorSums(size)[i%97],
// since rank*i mod 97 depends on i only through i mod 97. Checking a sum
// by this table, not by adding size terms per element, keeps the check
// from outweighing the reduction: at 64 ranks the per-element sums were a
// fifth of the job's CPU time (perf).
func vectorSums(size int) [97]float64 {
	var sums [97]float64
	for k := range sums {
		for r := range size {
			sums[k] += float64((r * k) % 97)
		}
	}
	return sums
}

func checkReduceSlice(w *mpi.Comm) error {
	for _, n := range []int{0, 1, 1000, 200_000} {
		got, err := mpi.ReduceSlice(w, vector(w.Rank(), n), mpi.Sum, 0)
		if err != nil {
			return err
		}
		if w.Rank() != 0 {
			if got != nil {
				return fmt.Errorf("n=%d: non-root got %d elements, want nil", n, len(got))
			}
			continue
		}
		if len(got) != n {
			return fmt.Errorf("n=%d: got %d elements", n, len(got))
		}
		sums := vectorSums(w.Size())
		for i, x := range got {
			if want := sums[i%97]; x != want {
				return fmt.Errorf("n=%d: [%d]=%v, want %v", n, i, x, want)
			}
		}
	}
	return nil
}

// checkAllreduceSlice reduces vectors of up to largest elements.
func checkAllreduceSlice(w *mpi.Comm, largest int) error {
	// 300,000 float64 take the ring, or several segments in shared memory;
	// 3,000,000 (24 MB) outgrow the shared result area.
	for _, n := range []int{0, 1, 7, 1000, 300_000, 3_000_000} {
		if n > largest {
			break
		}
		got, err := mpi.AllreduceSlice(w, vector(w.Rank(), n), mpi.Sum)
		if err != nil {
			return err
		}
		if len(got) != n {
			return fmt.Errorf("n=%d: got %d elements", n, len(got))
		}
		// Into a buffer of its own, and in place.
		// NaN until the call writes it: a reused allocation could hold a
		// previous round's sums.
		into := floats(n)
		for i := range into {
			into[i] = math.NaN()
		}
		if err := mpi.AllreduceSliceInto(w, vector(w.Rank(), n), into, mpi.Sum); err != nil {
			return err
		}
		inPlace := vector(w.Rank(), n)
		if err := mpi.AllreduceSliceInto(w, inPlace, inPlace, mpi.Sum); err != nil {
			return err
		}
		sums := vectorSums(w.Size())
		for i, x := range got {
			if want := sums[i%97]; x != want || into[i] != want || inPlace[i] != want {
				return fmt.Errorf("n=%d: [%d]=%v, into %v, in place %v, want %v", n, i, x, into[i], inPlace[i], want)
			}
		}
	}
	ints, err := mpi.AllreduceSlice(w, []int{w.Rank(), -w.Rank(), 1}, mpi.Max)
	if err != nil {
		return err
	}
	if !slices.Equal(ints, []int{w.Size() - 1, 0, 1}) {
		return fmt.Errorf("max of ints: %v", ints)
	}
	return nil
}

func checkScan(w *mpi.Comm) error {
	got, err := mpi.Scan(w, w.Rank()+1, mpi.Sum)
	if err != nil {
		return err
	}
	if want := (w.Rank() + 1) * (w.Rank() + 2) / 2; got != want {
		return fmt.Errorf("scan %d, want %d", got, want)
	}
	return nil
}

// concat is associative but not commutative.
func concat(a, b string) string { return a + "," + b }

type mat2 [4]int64

// mul is the 2x2 matrix product: associative, not commutative.
func mul(a, b mat2) mat2 {
	return mat2{a[0]*b[0] + a[1]*b[2], a[0]*b[1] + a[1]*b[3], a[2]*b[0] + a[3]*b[2], a[2]*b[1] + a[3]*b[3]}
}

func matOf(r int) mat2 { return mat2{1, int64(r + 1), int64(r % 3), 1} }

func checkNonCommutative(w *mpi.Comm) error {
	me := strconv.Itoa(w.Rank())
	order := func(upto int) string {
		s := make([]string, upto+1)
		for i := range s {
			s[i] = strconv.Itoa(i)
		}
		return strings.Join(s, ",")
	}
	last := w.Size() - 1
	red, err := mpi.Reduce(w, me, concat, 0)
	if err != nil {
		return err
	}
	if w.Rank() == 0 && red != order(last) {
		return fmt.Errorf("mpi.Reduce: %q", red)
	}
	all, err := mpi.Allreduce(w, me, concat)
	if err != nil {
		return err
	}
	if all != order(last) {
		return fmt.Errorf("mpi.Allreduce: %q", all)
	}
	scan, err := mpi.Scan(w, me, concat)
	if err != nil {
		return err
	}
	if scan != order(w.Rank()) {
		return fmt.Errorf("mpi.Scan: %q", scan)
	}
	slice, err := mpi.ReduceSlice(w, []string{me, me + "b"}, concat, 0)
	if err != nil {
		return err
	}
	if w.Rank() == 0 && (len(slice) != 2 || slice[0] != order(last)) {
		return fmt.Errorf("ReduceSlice: %q", slice)
	}
	want := matOf(0)
	for r := 1; r < w.Size(); r++ {
		want = mul(want, matOf(r))
	}
	prod, err := mpi.Allreduce(w, matOf(w.Rank()), mul)
	if err != nil {
		return err
	}
	if prod != want {
		return fmt.Errorf("matrix product %v, want %v", prod, want)
	}
	prods, err := mpi.AllreduceSlice(w, []mat2{matOf(w.Rank()), matOf(0)}, mul)
	if err != nil {
		return err
	}
	if len(prods) != 2 || prods[0] != want {
		return fmt.Errorf("AllreduceSlice of matrices: %v, want %v first", prods, want)
	}
	return nil
}

// checkFloatAgreement: float sums depend on the order of additions, so a
// ring or tree could give ranks different last bits; every rank must get
// the same bits. Rank 0 broadcasts its bits and every rank compares.
func checkFloatAgreement(w *mpi.Comm) error {
	for _, n := range []int{1, 1000, 300_000} {
		v := floats(n)
		for i := range v {
			v[i] = 1/float64(w.Rank()+i+1) + math.Pi*float64(w.Rank())
		}
		sum, err := mpi.AllreduceSlice(w, v, mpi.Sum)
		if err != nil {
			return err
		}
		scalar, err := mpi.Allreduce(w, v[0]/3, mpi.Sum)
		if err != nil {
			return err
		}
		bits := append([]float64{scalar}, sum...)
		ref, err := mpi.Bcast(w, bits, 0)
		if err != nil {
			return err
		}
		for i := range bits {
			if math.Float64bits(bits[i]) != math.Float64bits(ref[i]) {
				return fmt.Errorf("n=%d: element %d differs from rank 0's in its bits: %v vs %v", n, i, bits[i], ref[i])
			}
		}
	}
	return nil
}

func checkSplitDup(w *mpi.Comm) error {
	color := w.Rank() % 2
	if w.Size() >= 3 && w.Rank() == w.Size()-1 {
		color = mpi.Undefined
	}
	sub, err := w.Split(color, -w.Rank()) // reversed order within each color
	if err != nil {
		return err
	}
	if color == mpi.Undefined {
		if sub != nil {
			return errors.New("color Undefined gave a communicator")
		}
	} else {
		var members []int
		for r := w.Size() - 1; r >= 0; r-- {
			if r%2 == color && !(w.Size() >= 3 && r == w.Size()-1) {
				members = append(members, r)
			}
		}
		if sub.Size() != len(members) || members[sub.Rank()] != w.Rank() {
			return fmt.Errorf("sub rank %d of %d, members %v", sub.Rank(), sub.Size(), members)
		}
		got, err := mpi.Allgather(sub, []int{w.Rank()})
		if err != nil {
			return err
		}
		if !slices.Equal(got, members) {
			return fmt.Errorf("allgather on the split: %v, want %v", got, members)
		}
	}
	dup, err := w.Dup()
	if err != nil {
		return err
	}
	// Traffic on the world and on its duplicate, same tags, interleaved
	// with collectives: nothing mixes.
	next, prev := (w.Rank()+1)%w.Size(), (w.Rank()-1+w.Size())%w.Size()
	r1 := w.Isend("world", next, 0)
	r2 := dup.Isend("dup", next, 0)
	total, err := mpi.Allreduce(dup, 1, mpi.Sum)
	if err != nil {
		return err
	}
	var a, b string
	if _, err := dup.Recv(&b, prev, 0); err != nil {
		return err
	}
	if _, err := w.Recv(&a, prev, 0); err != nil {
		return err
	}
	if err := mpi.WaitAll(r1, r2); err != nil {
		return err
	}
	if a != "world" || b != "dup" || total != w.Size() {
		return fmt.Errorf("world got %q, dup got %q, total %d", a, b, total)
	}
	return nil
}

func checkBadInput(w *mpi.Comm) error {
	if _, err := mpi.Bcast(w, 1, w.Size()); err == nil {
		return errors.New("mpi.Bcast to a root out of range: no error")
	}
	if _, err := mpi.Reduce[int](w, 1, nil, 0); err == nil {
		return errors.New("mpi.Reduce with a nil operator: no error")
	}
	if _, err := mpi.Alltoall(w, make([][]int, w.Size()+1)); err == nil {
		return errors.New("mpi.Alltoall with Size+1 parts: no error")
	}
	if w.Size() > 1 {
		_, err := mpi.AllreduceSlice(w, make([]float64, 10+w.Rank()), mpi.Sum)
		if err == nil {
			return errors.New("AllreduceSlice with different lengths: no error")
		}
	}
	// The communicator still works afterwards.
	sum, err := mpi.Allreduce(w, 1, mpi.Sum)
	if err != nil || sum != w.Size() {
		return fmt.Errorf("mpi.Allreduce after the errors: %d, %v", sum, err)
	}
	return nil
}
