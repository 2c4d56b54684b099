package mpi

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/collectives"
	"sync/atomic"
)

type point struct {
	X, Y float64
	Name string
}

// TestCollectivesEndToEnd runs every collective through the mpi layer (the
// collective context, codecs, rendezvous for large messages) at several
// sizes and checks each against a plain reference.
func TestCollectivesEndToEnd(t *testing.T) {
	for _, np := range []int{1, 2, 3, 4, 5, 8} {
		t.Run(fmt.Sprint("np=", np), func(t *testing.T) {
			runRanks(t, np, func(c *Comm) error {
				me := c.Rank()
				p, err := Bcast(c, point{X: float64(me), Name: fmt.Sprint("from ", me)}, np-1)
				if err := expect(err == nil && p == point{X: float64(np - 1), Name: fmt.Sprint("from ", np-1)},
					"Bcast: %v %v", p, err); err != nil {
					return err
				}
				big := make([]float64, 200_000) // 1.6 MB: scatter_allgather at np >= 4
				for i := range big {
					big[i] = float64(i * (me + 1))
				}
				bb, err := Bcast(c, big, 0)
				if err := expect(err == nil && len(bb) == len(big) && bb[12345] == 12345, "large Bcast: %d elements, %v", len(bb), err); err != nil {
					return err
				}

				data := make([]int32, 10*np+3)
				for i := range data {
					data[i] = int32(i)
				}
				part, err := Scatter(c, data, 0)
				if err != nil {
					return err
				}
				lo, hi := 0, 0 // reference: parts of q or q+1, longer first
				for i := 0; i <= me; i++ {
					lo = hi
					hi += len(data) / np
					if i < len(data)%np {
						hi++
					}
				}
				if err := expect(slices.Equal(part, data[lo:hi]), "Scatter: rank %d got %v, want %v", me, part, data[lo:hi]); err != nil {
					return err
				}
				all, err := Gather(c, part, 0)
				if me == 0 {
					if err := expect(err == nil && slices.Equal(all, data), "Gather: %v %v", all, err); err != nil {
						return err
					}
				} else if err := expect(err == nil && all == nil, "Gather off root: %v %v", all, err); err != nil {
					return err
				}
				every, err := Allgather(c, part)
				if err := expect(err == nil && slices.Equal(every, data), "Allgather: %v %v", every, err); err != nil {
					return err
				}

				parts := make([][]string, np)
				for j := range parts {
					parts[j] = []string{fmt.Sprintf("%d->%d", me, j)}
				}
				got, err := Alltoall(c, parts)
				if err != nil {
					return err
				}
				for i := range np {
					if err := expect(len(got[i]) == 1 && got[i][0] == fmt.Sprintf("%d->%d", i, me), "Alltoall[%d] = %v", i, got[i]); err != nil {
						return err
					}
				}

				word := string(rune('a' + me))
				cat := func(a, b string) string { return a + b }
				alpha := "abcdefgh"[:np]
				r, err := Reduce(c, word, cat, np/2)
				want := ""
				if me == np/2 {
					want = alpha
				}
				if err := expect(err == nil && r == want, "Reduce: %q %v", r, err); err != nil {
					return err
				}
				ar, err := Allreduce(c, word, cat)
				if err := expect(err == nil && ar == alpha, "Allreduce: %q %v", ar, err); err != nil {
					return err
				}
				sc, err := Scan(c, word, cat)
				if err := expect(err == nil && sc == alpha[:me+1], "Scan: %q %v", sc, err); err != nil {
					return err
				}
				total, err := Allreduce(c, me+1, Sum)
				if err := expect(err == nil && total == np*(np+1)/2, "Allreduce Sum: %d %v", total, err); err != nil {
					return err
				}
				hiRank, err := Allreduce(c, me, Max)
				if err := expect(err == nil && hiRank == np-1, "Allreduce Max: %d %v", hiRank, err); err != nil {
					return err
				}

				vec := make([]float64, 100_000) // 800 KB: the ring at np >= 3
				for i := range vec {
					vec[i] = float64(i + me)
				}
				sum, err := AllreduceSlice(c, vec, Sum)
				if err != nil {
					return err
				}
				for _, i := range []int{0, 1, 77777, len(vec) - 1} {
					if err := expect(sum[i] == float64(np*i+np*(np-1)/2), "AllreduceSlice[%d] = %v", i, sum[i]); err != nil {
						return err
					}
				}
				rs, err := ReduceSlice(c, []string{word, word + word}, cat, 0)
				if me == 0 {
					var twice strings.Builder
					for _, ch := range alpha {
						twice.WriteString(string(ch) + string(ch))
					}
					if err := expect(err == nil && slices.Equal(rs, []string{alpha, twice.String()}), "ReduceSlice: %q %v", rs, err); err != nil {
						return err
					}
				} else if err := expect(err == nil && rs == nil, "ReduceSlice off root: %v %v", rs, err); err != nil {
					return err
				}
				return nil
			})
		})
	}
}

// TestCollectivesKeepOutOfUserTraffic: a user message sent before a run of
// collectives, with every tag the collectives might use, is received intact
// afterwards, and the collectives are not disturbed by it.
func TestCollectivesKeepOutOfUserTraffic(t *testing.T) {
	runRanks(t, 4, func(c *Comm) error {
		me := c.Rank()
		next, prev := (me+1)%4, (me+3)%4
		for tag := range 3 {
			if err := c.Send(fmt.Sprint("user ", me, " tag ", tag), next, tag); err != nil {
				return err
			}
		}
		for i := range 20 {
			v, err := Allreduce(c, []int{me, i}, func(a, b []int) []int { return []int{a[0] + b[0], a[1]} })
			if err := expect(err == nil && v[0] == 6 && v[1] == i, "round %d: %v %v", i, v, err); err != nil {
				return err
			}
			if _, err := Bcast(c, i, i%4); err != nil {
				return err
			}
		}
		for tag := range 3 {
			var s string
			if _, err := c.Recv(&s, prev, tag); err != nil {
				return err
			}
			if err := expect(s == fmt.Sprint("user ", prev, " tag ", tag), "user message %q", s); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestAllreduceBitwiseAgreementThroughMPI(t *testing.T) {
	for _, alg := range collectives.Algorithms()["GORUN_COLL_ALLREDUCE"] {
		t.Setenv("GORUN_COLL_ALLREDUCE", alg)
		results := make([][]float64, 5)
		runRanks(t, 5, func(c *Comm) error {
			v := make([]float64, 5000)
			for i := range v {
				v[i] = math.Sqrt(float64(i+1)) * math.Pow(10, float64(c.Rank()*3-6))
			}
			res, err := AllreduceSlice(c, v, Sum)
			results[c.Rank()] = res
			return err
		})
		for r := 1; r < 5; r++ {
			for i := range results[0] {
				if math.Float64bits(results[r][i]) != math.Float64bits(results[0][i]) {
					t.Fatalf("%s: rank %d element %d differs from rank 0", alg, r, i)
				}
			}
		}
	}
}

// TestForcedRingKeepsRankOrderForUserOps: the ring may only serve the
// built-in operators; a user operator keeps rank order even when forced.
func TestForcedRingKeepsRankOrderForUserOps(t *testing.T) {
	t.Setenv("GORUN_COLL_ALLREDUCE", "ring")
	runRanks(t, 3, func(c *Comm) error {
		v := []string{fmt.Sprint(c.Rank()), "x"}
		got, err := AllreduceSlice(c, v, func(a, b string) string { return a + b })
		return expect(err == nil && slices.Equal(got, []string{"012", "xxx"}), "got %q, %v", got, err)
	})
}

// collErrorOn checks that err is an *Error from op on rank that wraps want.
func collErrorOn(err error, op string, rank int, want error) error {
	var e *Error
	if !errors.As(err, &e) || e.Op != op || e.Rank != rank || !errors.Is(err, want) {
		return fmt.Errorf("got %v, want an *Error from rank %d %s wrapping %v", err, rank, op, want)
	}
	return nil
}

func TestCollectiveErrorsOnEveryRank(t *testing.T) {
	runRanks(t, 4, func(c *Comm) error {
		me := c.Rank()
		_, err := Bcast(c, 1, 4)
		if err := collErrorOn(err, "Bcast", me, ErrRoot); err != nil {
			return err
		}
		_, err = Reduce(c, 1, nil, 0)
		if err := collErrorOn(err, "Reduce", me, ErrNilOp); err != nil && me == 0 {
			return err
		}
		v := make([]float64, 10+me/3) // rank 3 has one more
		_, err = AllreduceSlice(c, v, Sum)
		if err := collErrorOn(err, "AllreduceSlice", me, ErrLengthMismatch); err != nil {
			return err
		}
		parts := make([][]int, 4)
		if me == 1 {
			parts = parts[:3]
		}
		_, err = Alltoall(c, parts)
		if err := collErrorOn(err, "Alltoall", me, ErrParts); err != nil {
			return err
		}
		op := Sum[int]
		if me == 2 {
			op = nil
		}
		_, err = Allreduce(c, 1, op)
		if err := collErrorOn(err, "Allreduce", me, ErrNilOp); err != nil {
			return err
		}
		// The communicator still works after the failed calls.
		total, err := Allreduce(c, 1, Sum)
		return expect(err == nil && total == 4, "Allreduce after errors: %d %v", total, err)
	})
}

func TestCollectivesOnSplitCommunicators(t *testing.T) {
	runRanks(t, 6, func(c *Comm) error {
		half, err := c.Split(c.Rank()%2, -c.Rank())
		if err != nil {
			return err
		}
		// Keys reverse the order: rank 0 of the half is the highest world rank.
		got, err := Allgather(half, []int{c.Rank()})
		want := []int{4, 2, 0}
		if c.Rank()%2 == 1 {
			want = []int{5, 3, 1}
		}
		if err := expect(err == nil && slices.Equal(got, want), "Allgather on split: %v %v", got, err); err != nil {
			return err
		}
		sum, err := Allreduce(c, c.Rank(), Sum)
		return expect(err == nil && sum == 15, "Allreduce on world after split: %d %v", sum, err)
	})
}

func TestCollectivesOnNilComm(t *testing.T) {
	var c *Comm
	if _, err := Allreduce(c, 1, Sum); !errors.Is(err, ErrNilComm) {
		t.Errorf("Allreduce on nil comm: %v", err)
	}
}

// TestBarrierHoldsEveryRank checks that no rank leaves Barrier before the
// last one has entered it: the last rank sleeps, then marks its arrival.
func TestBarrierHoldsEveryRank(t *testing.T) {
	for _, np := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprint("np=", np), func(t *testing.T) {
			var arrived atomic.Bool
			runRanks(t, np, func(c *Comm) error {
				if c.Rank() == np-1 {
					time.Sleep(100 * time.Millisecond)
					arrived.Store(true)
				}
				if err := c.Barrier(); err != nil {
					return err
				}
				return expect(arrived.Load(), "rank %d left Barrier before rank %d entered it", c.Rank(), np-1)
			})
		})
	}
}

func TestBarrierOnNilComm(t *testing.T) {
	var c *Comm
	if err := c.Barrier(); !errors.Is(err, ErrNilComm) {
		t.Fatalf("nil Comm Barrier: %v, want ErrNilComm", err)
	}
}

// TestBcastNamedNumericSlice: a named slice type of numbers travels raw and
// comes back as the named type, at sizes that are empty, tiny and large.
func TestBcastNamedNumericSlice(t *testing.T) {
	type vec []float32
	for _, n := range []int{0, 1, 3, 200_000} {
		runRanks(t, 3, func(c *Comm) error {
			var v vec
			if c.Rank() == 2 {
				v = make(vec, n)
				for i := range v {
					v[i] = float32(i) / 4
				}
			}
			got, err := Bcast(c, v, 2)
			if err != nil {
				return err
			}
			if len(got) != n || (n > 0 && got[n-1] != float32(n-1)/4) {
				return fmt.Errorf("n=%d: got %d elements", n, len(got))
			}
			return nil
		})
	}
}
