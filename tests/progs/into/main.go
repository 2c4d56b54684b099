// Command into is the integration tests' program for the collectives that
// write into the caller's buffer (GatherInto, AllgatherInto, AlltoallInto,
// ScatterInto, ReduceSliceInto) and the slice forms of Gather, Allgather
// and Alltoall. "into SEED" makes a seeded random plan of calls (the same
// on every rank): collective, element type (float64, int32, byte, and
// string, which never goes through shared memory), block length (zero,
// small, odd, past a shared-memory slot) and root; every rank computes what
// each call must give from the seed, checks it, and prints "rank R ok
// into", then "rank R digest HEX", a hash of everything it received, so
// that runs through shared memory and by messages can be compared. It
// exits 1 if a check failed.
//
// "into wrong SEED" has, in turn, the root of a GatherInto, a rank of an
// AllgatherInto and a rank of an AlltoallInto pass a buffer of the wrong
// length: that rank must get an error wrapping mpi.ErrLengthMismatch, no
// rank may hang, and the world must work afterwards; it prints "rank R ok
// wrong".
package main

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"unsafe"

	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	args := os.Args[1:]
	wrong := len(args) > 0 && args[0] == "wrong"
	if wrong {
		args = args[1:]
	}
	seed := uint64(1)
	if len(args) > 0 {
		if seed, err = strconv.ParseUint(args[0], 10, 64); err != nil {
			fmt.Fprintln(os.Stderr, "into: seed:", err)
			os.Exit(2)
		}
	}
	name := "into"
	if wrong {
		name = "wrong"
		err = wrongLengths(world, seed)
	} else {
		err = run(world, seed)
	}
	if err != nil {
		fmt.Printf("rank %d FAIL %s: %v\n", world.Rank(), name, err)
	} else {
		fmt.Printf("rank %d ok %s\n", world.Rank(), name)
	}
	if ferr := mpi.Finalize(); ferr != nil || err != nil {
		fmt.Fprintln(os.Stderr, "into: failed", ferr)
		os.Exit(1)
	}
}

// lengths a plan picks block lengths from; slotPast is past a slot of the
// shared memory at up to 8 ranks (8 MiB) for float64, so that a block
// takes two rounds there.
var lengths = []int{0, 1, 3, 1000, 4099, 100_003}

const slotPast = 1<<20 + 3

// value is element i of the block rank src sends rank dest in call k.
func value(k, src, dest, i int) int { return k*1_000_003 + src*10_007 + dest*101 + i }

// digest hashes what a rank received, in order.
type digest struct {
	h interface{ Write([]byte) (int, error) }
}

func run(world *mpi.Comm, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 7))
	h := fnv.New64a()
	d := digest{h}
	for k := range 40 {
		n := lengths[rng.IntN(len(lengths))]
		if k == 0 {
			n = slotPast
		}
		root := rng.IntN(world.Size())
		op := rng.IntN(8)
		var err error
		switch rng.IntN(4) {
		case 0:
			err = call[float64](world, d, k, op, n, root)
		case 1:
			err = call[int32](world, d, k, op, n, root)
		case 2:
			err = call[byte](world, d, k, op, min(n, 4099), root)
		default:
			err = callStrings(world, d, k, op, min(n, 1000), root)
		}
		if err != nil {
			return fmt.Errorf("call %d: %w", k, err)
		}
	}
	fmt.Printf("rank %d digest %x\n", world.Rank(), h.Sum64())
	return nil
}

type number interface{ ~float64 | ~int32 | ~byte }

func block[T number](k, src, dest, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = T(value(k, src, dest, i))
	}
	return out
}

// blocks is the blocks of srcs to dest (dest -1: a part for everyone),
// one after the other.
func blocks[T number](k int, srcs []int, dest, n int) []T {
	var out []T
	for _, s := range srcs {
		out = append(out, block[T](k, s, dest, n)...)
	}
	return out
}

func ranks(p int) []int {
	out := make([]int, p)
	for i := range out {
		out[i] = i
	}
	return out
}

func (d digest) add(b []byte) { d.h.Write(b) }

func bytesOf[T number](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// expect checks got against want and adds got to the digest.
func expect[T comparable](d digest, what string, got, want []T, raw func([]T) []byte) error {
	d.add(raw(got))
	if !slices.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		return fmt.Errorf("%s: %d elements, want %d; first difference at %d", what, len(got), len(want), i)
	}
	return nil
}

func call[T number](w *mpi.Comm, d digest, k, op, n, root int) error {
	p, me := w.Size(), w.Rank()
	raw := bytesOf[T]
	switch op {
	case 0: // GatherInto
		out := make([]T, p*n)
		if me != root {
			out = nil
		}
		if err := mpi.GatherInto(w, block[T](k, me, -1, n), out, root); err != nil {
			return err
		}
		if me == root {
			return expect(d, "GatherInto", out, blocks[T](k, ranks(p), -1, n), raw)
		}
	case 1: // AllgatherInto
		out := make([]T, p*n)
		if err := mpi.AllgatherInto(w, block[T](k, me, -1, n), out); err != nil {
			return err
		}
		return expect(d, "AllgatherInto", out, blocks[T](k, ranks(p), -1, n), raw)
	case 2: // AlltoallInto
		var send []T
		for q := range p {
			send = append(send, block[T](k, me, q, n)...)
		}
		recv := make([]T, len(send))
		if err := mpi.AlltoallInto(w, send, recv); err != nil {
			return err
		}
		return expect(d, "AlltoallInto", recv, blocks[T](k, ranks(p), me, n), raw)
	case 3: // ScatterInto
		var data []T
		if me == root {
			for q := range p {
				data = append(data, block[T](k, root, q, n)...)
			}
		}
		out := make([]T, n)
		if err := mpi.ScatterInto(w, data, out, root); err != nil {
			return err
		}
		return expect(d, "ScatterInto", out, block[T](k, root, me, n), raw)
	case 4: // ReduceSliceInto, Max: the largest rank's block
		out := make([]T, n)
		if err := mpi.ReduceSliceInto(w, block[T](k, me, -1, n), out, mpi.Max, root); err != nil {
			return err
		}
		if me == root {
			want := block[T](k, 0, -1, n)
			for q := 1; q < p; q++ {
				for i, v := range block[T](k, q, -1, n) {
					want[i] = max(want[i], v)
				}
			}
			return expect(d, "ReduceSliceInto", out, want, raw)
		}
	case 5: // Gather, parts of different lengths
		got, err := mpi.Gather(w, block[T](k, me, -1, n/(me+1)), root)
		if err != nil || me != root {
			return err
		}
		var want []T
		for q := range p {
			want = append(want, block[T](k, q, -1, n/(q+1))...)
		}
		return expect(d, "Gather", got, want, raw)
	case 6: // Allgather, parts of different lengths
		got, err := mpi.Allgather(w, block[T](k, me, -1, n/(me+1)))
		if err != nil {
			return err
		}
		var want []T
		for q := range p {
			want = append(want, block[T](k, q, -1, n/(q+1))...)
		}
		return expect(d, "Allgather", got, want, raw)
	default: // Alltoall, blocks of different lengths
		parts := make([][]T, p)
		for q := range parts {
			parts[q] = block[T](k, me, q, n/(me+q+1))
		}
		got, err := mpi.Alltoall(w, parts)
		if err != nil {
			return err
		}
		for q := range p {
			if err := expect(d, fmt.Sprintf("Alltoall from rank %d", q), got[q], block[T](k, q, me, n/(q+me+1)), raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// callStrings is call for strings, which travel encoded (never through
// shared memory); the digest gets their text.
func callStrings(w *mpi.Comm, d digest, k, op, n, root int) error {
	p, me := w.Size(), w.Rank()
	str := func(src, dest, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strconv.Itoa(value(k, src, dest, i))
		}
		return out
	}
	raw := func(s []string) []byte {
		var b []byte
		for _, x := range s {
			b = append(b, x...)
			b = append(b, 0)
		}
		return b
	}
	all := func(dest int) []string {
		var out []string
		for q := range p {
			out = append(out, str(q, dest, n)...)
		}
		return out
	}
	switch op % 4 {
	case 0:
		var out []string
		if me == root {
			out = make([]string, p*n)
		}
		if err := mpi.GatherInto(w, str(me, -1, n), out, root); err != nil || me != root {
			return err
		}
		return expect(d, "GatherInto of strings", out, all(-1), raw)
	case 1:
		out := make([]string, p*n)
		if err := mpi.AllgatherInto(w, str(me, -1, n), out); err != nil {
			return err
		}
		return expect(d, "AllgatherInto of strings", out, all(-1), raw)
	case 2:
		var send []string
		for q := range p {
			send = append(send, str(me, q, n)...)
		}
		recv := make([]string, len(send))
		if err := mpi.AlltoallInto(w, send, recv); err != nil {
			return err
		}
		var want []string
		for q := range p {
			want = append(want, str(q, me, n)...)
		}
		return expect(d, "AlltoallInto of strings", recv, want, raw)
	default:
		var data []string
		if me == root {
			for q := range p {
				data = append(data, str(root, q, n)...)
			}
		}
		out := make([]string, n)
		if err := mpi.ScatterInto(w, data, out, root); err != nil {
			return err
		}
		return expect(d, "ScatterInto of strings", out, str(root, me, n), raw)
	}
}

// wrongLengths: a seeded rank passes a buffer of the wrong length to each
// of GatherInto (the root's out), AllgatherInto (out) and AlltoallInto
// (recv). That rank must get an error wrapping mpi.ErrLengthMismatch; the
// others return nil or an error naming it (they learn of it through
// shared memory, or in AlltoallInto's exchange), never hang; then every
// rank gathers correctly again.
func wrongLengths(w *mpi.Comm, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 11))
	p, me := w.Size(), w.Rank()
	const n = 5000
	check := func(call string, bad int, err error) error {
		switch {
		case me == bad && !errors.Is(err, mpi.ErrLengthMismatch):
			return fmt.Errorf("%s with this rank's buffer of the wrong length: got %v, want ErrLengthMismatch", call, err)
		case me != bad && err != nil && !errors.Is(err, mpi.ErrLengthMismatch):
			return fmt.Errorf("%s with rank %d's buffer of the wrong length: %v", call, bad, err)
		}
		return nil
	}
	part := block[float64](0, me, -1, n)
	root := rng.IntN(p)
	out := make([]float64, p*n)
	if me == root {
		out = out[:len(out)-1]
	}
	if err := check("GatherInto", root, mpi.GatherInto(w, part, out, root)); err != nil {
		return err
	}
	bad := rng.IntN(p)
	out = make([]float64, p*n+1)
	if me != bad {
		out = out[:p*n]
	}
	if err := check("AllgatherInto", bad, mpi.AllgatherInto(w, part, out)); err != nil {
		return err
	}
	bad = rng.IntN(p)
	send := blocks[float64](0, []int{me}, -1, p*n)
	recv := make([]float64, len(send))
	if me == bad {
		recv = recv[1:]
	}
	err := mpi.AlltoallInto(w, send, recv)
	if err := check("AlltoallInto", bad, err); err != nil {
		return err
	}
	if p > 1 && !errors.Is(err, mpi.ErrLengthMismatch) {
		return fmt.Errorf("AlltoallInto with rank %d's recv of the wrong length returned %v here: every rank must learn of it", bad, err)
	}
	// The world still works.
	out = make([]float64, p*n)
	if err := mpi.AllgatherInto(w, part, out); err != nil {
		return fmt.Errorf("AllgatherInto after the errors: %w", err)
	}
	return expect(digest{fnv.New64a()}, "AllgatherInto after the errors", out, blocks[float64](0, ranks(p), -1, n), bytesOf[float64])
}
