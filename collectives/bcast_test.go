package collectives

import (
	"bytes"
	"fmt"
	"testing"
)

// pattern returns n bytes that differ with seed and position.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + seed*7 + i/251)
	}
	return b
}

func TestBcastMatchesReference(t *testing.T) {
	withAlgs(t, "GORUN_COLL_BCAST", func(t *testing.T) {
		for _, m := range modes {
			for _, np := range groupSizes {
				for _, n := range []int{0, 1, 5, 1000, 600 << 10} {
					for _, root := range []int{0, np - 1, np / 2} {
						want := pattern(n, root)
						errs := runRanks(t, np, m.sync, func(c Conn) error {
							var v []byte
							if c.Rank() == root {
								v = pattern(n, root)
							}
							got, err := Bcast(c, bytesCodec{}, v, root)
							if err != nil {
								return err
							}
							if !bytes.Equal(got, want) {
								return fmt.Errorf("got %d bytes, not root's %d", len(got), len(want))
							}
							return nil
						})
						mustAll(t, fmt.Sprintf("%s np=%d n=%d root=%d", m.name, np, n, root), errs)
					}
				}
			}
		}
	})
}

func TestBcastErrors(t *testing.T) {
	for _, np := range groupSizes {
		for _, root := range []int{-1, np} {
			errs := runRanks(t, np, true, func(c Conn) error {
				_, err := Bcast(c, str{}, "x", root)
				return err
			})
			everyRankFails(t, fmt.Sprintf("np=%d root=%d", np, root), errs, ErrRoot)
		}
		for _, alg := range messageAlgorithms("GORUN_COLL_BCAST") {
			if np == 1 {
				break // nothing is encoded for a group of one
			}
			t.Setenv("GORUN_COLL_BCAST", alg)
			errs := runRanks(t, np, true, func(c Conn) error {
				v := "fine"
				if c.Rank() == np-1 {
					v = "bad"
				}
				_, err := Bcast(c, failCodec{bad: "bad"}, v, np-1)
				return err
			})
			failedBecause(t, fmt.Sprintf("%s np=%d root cannot encode", alg, np), errs, np-1, errBadValue)
		}
		t.Setenv("GORUN_COLL_BCAST", "")
	}
}
