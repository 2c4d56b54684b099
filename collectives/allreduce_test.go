package collectives

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

var (
	sumF   = Op[float64]{Fn: func(a, b float64) float64 { return a + b }, Commutative: true}
	concat = Op[string]{Fn: func(a, b string) string { return a + b }}
)

// withAlgs runs f once per forced algorithm of env (and once with the
// default choice, named "default").
func withAlgs(t *testing.T, env string, f func(t *testing.T)) {
	for _, alg := range append([]string{""}, messageAlgorithms(env)...) {
		name := alg
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			t.Setenv(env, alg)
			f(t)
		})
	}
}

// messageAlgorithms lists the algorithms the variable env forces
// (Algorithms) that move data by messages: every one but shared memory.
func messageAlgorithms(env string) []string {
	var out []string
	for _, alg := range Algorithms()[env] {
		if alg != algShm.String() {
			out = append(out, alg)
		}
	}
	if len(out) == 0 {
		panic("no message algorithm for " + env)
	}
	return out
}

var modes = []struct {
	name string
	sync bool
}{{"eager", false}, {"rendezvous", true}}

// operand is rank r's element i: integers, so sums are exact in any order.
func operand(r, i int) float64 { return float64((r+1)*1000 + i%997) }

// rankOperand is rank r's n-element operand: operand(r, i) at i.
func rankOperand(r, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = operand(r, i)
	}
	return v
}

// operandSums is the element-wise sum of the n-element operands of np
// ranks: what a Sum over them must give.
func operandSums(np, n int) []float64 {
	want := make([]float64, n)
	for i := range want {
		for r := range np {
			want[i] += operand(r, i)
		}
	}
	return want
}

// sameElements compares a result with want, element by element.
func sameElements(got, want []float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d elements, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("element %d = %v, want %v", i, got[i], want[i])
		}
	}
	return nil
}

// checkSum compares an AllreduceSlice result with want, and checks that
// rank's operand v was left as operand made it.
func checkSum(got, want, v []float64, rank int) error {
	if err := sameElements(got, want); err != nil {
		return err
	}
	for i := range v {
		if v[i] != operand(rank, i) {
			return fmt.Errorf("input element %d was changed", i)
		}
	}
	return nil
}

func TestAllreduceSliceMatchesReference(t *testing.T) {
	withAlgs(t, "GORUN_COLL_ALLREDUCE", func(t *testing.T) {
		for _, m := range modes {
			for _, np := range groupSizes {
				for _, n := range []int{0, 1, 7, 100, 40000} {
					want := operandSums(np, n)
					label := fmt.Sprintf("%s np=%d n=%d", m.name, np, n)
					errs := runRanks(t, np, m.sync, func(c Conn) error {
						v := rankOperand(c.Rank(), n)
						got, err := AllreduceSlice(c, float64s{}, v, sumF)
						if err != nil {
							return err
						}
						return checkSum(got, want, v, c.Rank())
					})
					mustAll(t, label, errs)
				}
			}
		}
	})
}

// TestAllreduceSliceBitwiseAgreement: with inexact floating-point sums, the
// result depends on the order of additions; every rank must still get the
// very same bits.
func TestAllreduceSliceBitwiseAgreement(t *testing.T) {
	withAlgs(t, "GORUN_COLL_ALLREDUCE", func(t *testing.T) {
		for _, np := range groupSizes {
			const n = 1000
			results := make([][]float64, np)
			errs := runRanks(t, np, false, func(c Conn) error {
				v := make([]float64, n)
				for i := range v {
					v[i] = math.Pi*float64(c.Rank()+1)/7 + 1e-9*float64(i) + 1e10*float64(c.Rank()%2)
				}
				got, err := AllreduceSlice(c, float64s{}, v, sumF)
				results[c.Rank()] = got
				return err
			})
			mustAll(t, fmt.Sprintf("np=%d", np), errs)
			for r := 1; r < np; r++ {
				for i := range results[0] {
					if math.Float64bits(results[r][i]) != math.Float64bits(results[0][i]) {
						t.Fatalf("np=%d: rank %d element %d = %x, rank 0 has %x", np, r, i,
							math.Float64bits(results[r][i]), math.Float64bits(results[0][i]))
					}
				}
			}
		}
	})
}

// TestAllreduceSliceNonCommutative: a forced ring must not serve an
// operator that is not commutative; string concatenation shows the order.
func TestAllreduceSliceNonCommutative(t *testing.T) {
	withAlgs(t, "GORUN_COLL_ALLREDUCE", func(t *testing.T) {
		for _, m := range modes {
			for _, np := range groupSizes {
				for _, n := range []int{0, 1, 5} {
					errs := runRanks(t, np, m.sync, func(c Conn) error {
						v := make([]string, n)
						for i := range v {
							v[i] = fmt.Sprintf("%d.%d;", c.Rank(), i)
						}
						got, err := AllreduceSlice(c, strs{}, v, concat)
						if err != nil {
							return err
						}
						for i := range n {
							var want strings.Builder
							for r := range np {
								fmt.Fprintf(&want, "%d.%d;", r, i)
							}
							if got[i] != want.String() {
								return fmt.Errorf("element %d = %q, want %q", i, got[i], want.String())
							}
						}
						return nil
					})
					mustAll(t, fmt.Sprintf("%s np=%d n=%d", m.name, np, n), errs)
				}
			}
		}
	})
}

func TestAllreduceNonCommutative(t *testing.T) {
	for _, m := range modes {
		for _, np := range groupSizes {
			want := rankMat(0)
			wantS := "0"
			for r := 1; r < np; r++ {
				want = matMul(want, rankMat(r))
				wantS += fmt.Sprint(r)
			}
			errs := runRanks(t, np, m.sync, func(c Conn) error {
				got, err := Allreduce(c, matCodec{}, rankMat(c.Rank()), Op[mat]{Fn: matMul})
				if err != nil {
					return err
				}
				if got != want {
					return fmt.Errorf("matrix product %v, want %v", got, want)
				}
				s, err := Allreduce(c, str{}, fmt.Sprint(c.Rank()), concat)
				if err != nil {
					return err
				}
				if s != wantS {
					return fmt.Errorf("concatenation %q, want %q", s, wantS)
				}
				return nil
			})
			mustAll(t, fmt.Sprintf("%s np=%d", m.name, np), errs)
		}
	}
}

// everyRankFails checks that every rank returned an error matching want.
func everyRankFails(t *testing.T, label string, errs []error, want error) {
	t.Helper()
	for r, err := range errs {
		if !errors.Is(err, want) {
			t.Errorf("%s: rank %d: got %v, want an error wrapping %v", label, r, err, want)
		}
	}
}

func TestAllreduceSliceLengthMismatchFailsEverywhere(t *testing.T) {
	withAlgs(t, "GORUN_COLL_ALLREDUCE", func(t *testing.T) {
		for _, m := range modes {
			for _, np := range groupSizes[1:] {
				for _, lens := range [][2]int{{10, 11}, {3, 50000}, {50000, 0}} {
					for _, odd := range []int{0, np - 1, np / 2} {
						label := fmt.Sprintf("%s np=%d odd rank %d lengths %v", m.name, np, odd, lens)
						errs := runRanks(t, np, m.sync, func(c Conn) error {
							n := lens[0]
							if c.Rank() == odd {
								n = lens[1]
							}
							_, err := AllreduceSlice(c, float64s{}, make([]float64, n), sumF)
							return err
						})
						everyRankFails(t, label, errs, ErrLengthMismatch)
					}
				}
			}
		}
	})
}

func TestAllreduceNilOpFailsEverywhere(t *testing.T) {
	for _, np := range groupSizes {
		for _, bad := range []int{0, np - 1} {
			label := fmt.Sprintf("np=%d nil op on rank %d", np, bad)
			errs := runRanks(t, np, true, func(c Conn) error {
				op := concat
				if c.Rank() == bad {
					op.Fn = nil
				}
				_, err := Allreduce(c, str{}, "x", op)
				return err
			})
			everyRankFails(t, label, errs, ErrNilOp)
			errs = runRanks(t, np, true, func(c Conn) error {
				op := sumF
				if c.Rank() == bad {
					op.Fn = nil
				}
				_, err := AllreduceSlice(c, float64s{}, make([]float64, 50000), op)
				return err
			})
			everyRankFails(t, label+" (slice)", errs, ErrNilOp)
		}
	}
}

func TestAllreduceUnknownAlgorithm(t *testing.T) {
	t.Setenv("GORUN_COLL_ALLREDUCE", "bogus")
	errs := runRanks(t, 3, false, func(c Conn) error {
		_, err := AllreduceSlice(c, float64s{}, []float64{1}, sumF)
		return err
	})
	everyRankFails(t, "bogus algorithm", errs, ErrAlgorithm)
	for _, alg := range Algorithms()["GORUN_COLL_ALLREDUCE"] {
		if !strings.Contains(errs[0].Error(), alg) {
			t.Errorf("error %q does not name the valid choice %q", errs[0], alg)
		}
	}
}
