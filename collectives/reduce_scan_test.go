package collectives

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestReduceMatchesReference(t *testing.T) {
	for _, m := range modes {
		for _, np := range groupSizes {
			for _, root := range []int{0, np - 1, np / 2} {
				wantM, wantS := rankMat(0), "0"
				for r := 1; r < np; r++ {
					wantM, wantS = matMul(wantM, rankMat(r)), wantS+fmt.Sprint(r)
				}
				errs := runRanks(t, np, m.sync, func(c Conn) error {
					gotM, err := Reduce(c, matCodec{}, rankMat(c.Rank()), Op[mat]{Fn: matMul}, root)
					if err != nil {
						return err
					}
					gotS, err := Reduce(c, str{}, fmt.Sprint(c.Rank()), concat, root)
					if err != nil {
						return err
					}
					// A commutative operator takes the tree rooted at root.
					gotN, err := Reduce(c, str{}, fmt.Sprint(c.Rank()), Op[string]{Fn: maxStr, Commutative: true}, root)
					if err != nil {
						return err
					}
					if c.Rank() != root {
						if gotM != (mat{}) || gotS != "" || gotN != "" {
							return fmt.Errorf("non-root got %v %q %q, want zero values", gotM, gotS, gotN)
						}
						return nil
					}
					if gotM != wantM || gotS != wantS || gotN != fmt.Sprint(np-1) {
						return fmt.Errorf("root got %v %q %q, want %v %q %q", gotM, gotS, gotN, wantM, wantS, fmt.Sprint(np-1))
					}
					return nil
				})
				mustAll(t, fmt.Sprintf("%s np=%d root=%d", m.name, np, root), errs)
			}
		}
	}
}

func maxStr(a, b string) string { return max(a, b) }

func TestReduceSliceMatchesReference(t *testing.T) {
	for _, m := range modes {
		for _, np := range groupSizes {
			for _, n := range []int{0, 1, 7, 3000} {
				for _, root := range []int{0, np - 1, np / 2} {
					for _, op := range []Op[string]{concat, {Fn: maxStr, Commutative: true}} {
						errs := runRanks(t, np, m.sync, func(c Conn) error {
							v := make([]string, n)
							for i := range v {
								v[i] = fmt.Sprintf("%d.%d;", c.Rank(), i%5)
							}
							got, err := ReduceSlice(c, strs{}, v, op, root)
							if err != nil || c.Rank() != root {
								if got != nil {
									return fmt.Errorf("non-root got %d elements, want nil", len(got))
								}
								return err
							}
							if len(got) != n {
								return fmt.Errorf("got %d elements, want %d", len(got), n)
							}
							for i := range got {
								want := fmt.Sprintf("%d.%d;", np-1, i%5)
								if !op.Commutative {
									var b strings.Builder
									for r := range np {
										fmt.Fprintf(&b, "%d.%d;", r, i%5)
									}
									want = b.String()
								}
								if got[i] != want {
									return fmt.Errorf("element %d = %q, want %q", i, got[i], want)
								}
							}
							return nil
						})
						mustAll(t, fmt.Sprintf("%s np=%d n=%d root=%d commutative=%v", m.name, np, n, root, op.Commutative), errs)
					}
				}
			}
		}
	}
}

func TestReduceErrors(t *testing.T) {
	for _, np := range groupSizes {
		errs := runRanks(t, np, true, func(c Conn) error {
			_, err := Reduce(c, str{}, "x", concat, np)
			return err
		})
		everyRankFails(t, fmt.Sprintf("np=%d root out of range", np), errs, ErrRoot)
		errs = runRanks(t, np, true, func(c Conn) error {
			_, err := ReduceSlice(c, strs{}, []string{"x"}, Op[string]{}, 0)
			return err
		})
		everyRankFails(t, fmt.Sprintf("np=%d nil op everywhere", np), errs, ErrNilOp)
		if np == 1 {
			continue
		}
		for _, root := range []int{0, np - 1} {
			for _, bad := range []int{0, np - 1, np / 2} {
				errs = runRanks(t, np, true, func(c Conn) error {
					n := 4
					if c.Rank() == bad {
						n = 5
					}
					_, err := ReduceSlice(c, float64s{}, make([]float64, n), sumF, root)
					return err
				})
				if !isErr(errs[root], ErrLengthMismatch) {
					t.Errorf("np=%d root=%d rank %d longer: root got %v, want ErrLengthMismatch", np, root, bad, errs[root])
				}
				errs = runRanks(t, np, true, func(c Conn) error {
					op := concat
					if c.Rank() == bad {
						op.Fn = nil
					}
					_, err := Reduce(c, str{}, "x", op, root)
					return err
				})
				if !isErr(errs[root], ErrNilOp) || !isErr(errs[bad], ErrNilOp) {
					t.Errorf("np=%d root=%d nil op on rank %d: root got %v, that rank %v", np, root, bad, errs[root], errs[bad])
				}
			}
		}
	}
}

func TestScanMatchesReference(t *testing.T) {
	for _, m := range modes {
		for _, np := range groupSizes {
			errs := runRanks(t, np, m.sync, func(c Conn) error {
				wantM, wantS := rankMat(0), "0"
				for r := 1; r <= c.Rank(); r++ {
					wantM, wantS = matMul(wantM, rankMat(r)), wantS+fmt.Sprint(r)
				}
				gotM, err := Scan(c, matCodec{}, rankMat(c.Rank()), Op[mat]{Fn: matMul})
				if err != nil {
					return err
				}
				gotS, err := Scan(c, str{}, fmt.Sprint(c.Rank()), concat)
				if err != nil {
					return err
				}
				if gotM != wantM || gotS != wantS {
					return fmt.Errorf("got %v %q, want %v %q", gotM, gotS, wantM, wantS)
				}
				return nil
			})
			mustAll(t, fmt.Sprintf("%s np=%d", m.name, np), errs)
		}
	}
}

// TestScanOperatorModifyingItsOperand: Go operators on slices often append
// to their left operand; Scan must not feed one decoded value to two calls.
func TestScanOperatorModifyingItsOperand(t *testing.T) {
	appendOp := Op[[]string]{Fn: func(a, b []string) []string { return append(a, b...) }}
	for _, np := range groupSizes {
		errs := runRanks(t, np, false, func(c Conn) error {
			got, err := Scan(c, strs{}, []string{fmt.Sprint(c.Rank())}, appendOp)
			if err != nil {
				return err
			}
			var want []string
			for r := 0; r <= c.Rank(); r++ {
				want = append(want, fmt.Sprint(r))
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				return fmt.Errorf("got %v, want %v", got, want)
			}
			return nil
		})
		mustAll(t, fmt.Sprintf("np=%d", np), errs)
	}
}

func TestScanNilOp(t *testing.T) {
	for _, np := range groupSizes {
		bad := np / 2
		errs := runRanks(t, np, true, func(c Conn) error {
			op := concat
			if c.Rank() == bad {
				op.Fn = nil
			}
			_, err := Scan(c, str{}, "x", op)
			return err
		})
		for r := bad; r < np; r++ {
			if !isErr(errs[r], ErrNilOp) {
				t.Errorf("np=%d nil op on rank %d: rank %d got %v", np, bad, r, errs[r])
			}
		}
	}
}

func TestBarrierWaitsForEveryRank(t *testing.T) {
	for _, m := range modes {
		for _, np := range groupSizes {
			for late := range np {
				var arrivedMu sync.Mutex
				var arrived [16]bool
				errs := runRanks(t, np, m.sync, func(c Conn) error {
					if c.Rank() == late {
						for range 3 {
							runtimeYield()
						}
					}
					arrivedMu.Lock()
					arrived[c.Rank()] = true
					arrivedMu.Unlock()
					if err := Barrier(c); err != nil {
						return err
					}
					arrivedMu.Lock()
					defer arrivedMu.Unlock()
					for r := range np {
						if !arrived[r] {
							return fmt.Errorf("left the barrier before rank %d entered it", r)
						}
					}
					return nil
				})
				mustAll(t, fmt.Sprintf("%s np=%d late=%d", m.name, np, late), errs)
			}
		}
	}
}
