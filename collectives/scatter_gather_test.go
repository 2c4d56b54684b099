package collectives

import (
	"bytes"
	"fmt"
	"testing"
)

// rankPart is rank r's part in the gathering tests: its length varies with
// the rank (0 for rank 0 when n is 0) so that unequal parts are covered.
func rankPart(r, n int) []byte { return pattern(n*(r%3+1)/2, r) }

func TestScatterMatchesReference(t *testing.T) {
	withAlgs(t, "GORUN_COLL_SCATTER", func(t *testing.T) {
		for _, m := range modes {
			for _, np := range groupSizes {
				for _, n := range []int{0, 1, 9, 5000} {
					for _, root := range []int{0, np - 1, np / 2} {
						errs := runRanks(t, np, m.sync, func(c Conn) error {
							var parts [][]byte
							if c.Rank() == root {
								for r := range np {
									parts = append(parts, rankPart(r, n))
								}
							}
							got, err := Scatter(c, bytesCodec{}, parts, root)
							if err != nil {
								return err
							}
							if want := rankPart(c.Rank(), n); !bytes.Equal(got, want) {
								return fmt.Errorf("got %d bytes, want rank part of %d", len(got), len(want))
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

func TestScatterErrors(t *testing.T) {
	withAlgs(t, "GORUN_COLL_SCATTER", func(t *testing.T) {
		for _, np := range groupSizes {
			errs := runRanks(t, np, true, func(c Conn) error {
				_, err := Scatter(c, bytesCodec{}, make([][]byte, np), np)
				return err
			})
			everyRankFails(t, fmt.Sprintf("np=%d root out of range", np), errs, ErrRoot)
			root := np / 2
			errs = runRanks(t, np, true, func(c Conn) error {
				_, err := Scatter(c, bytesCodec{}, make([][]byte, np+1), root)
				return err
			})
			everyRankFails(t, fmt.Sprintf("np=%d too many parts", np), errs, ErrParts)
			if np > 1 {
				errs = runRanks(t, np, true, func(c Conn) error {
					parts := []string{}
					for r := range np {
						parts = append(parts, fmt.Sprint(r))
					}
					parts[np-1] = "bad"
					_, err := Scatter(c, failCodec{bad: "bad"}, parts, root)
					return err
				})
				failedBecause(t, fmt.Sprintf("np=%d a part cannot be encoded", np), errs, root, errBadValue)
			}
		}
	})
}

func TestGatherMatchesReference(t *testing.T) {
	withAlgs(t, "GORUN_COLL_GATHER", func(t *testing.T) {
		for _, m := range modes {
			for _, np := range groupSizes {
				for _, n := range []int{0, 1, 9, 5000} {
					for _, root := range []int{0, np - 1, np / 2} {
						errs := runRanks(t, np, m.sync, func(c Conn) error {
							got, err := Gather(c, bytesCodec{}, rankPart(c.Rank(), n), root)
							if err != nil {
								return err
							}
							if c.Rank() != root {
								if got != nil {
									return fmt.Errorf("non-root got %d parts, want nil", len(got))
								}
								return nil
							}
							if len(got) != np {
								return fmt.Errorf("root got %d parts, want %d", len(got), np)
							}
							for r := range np {
								if !bytes.Equal(got[r], rankPart(r, n)) {
									return fmt.Errorf("part %d is wrong (%d bytes)", r, len(got[r]))
								}
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

func TestGatherErrors(t *testing.T) {
	withAlgs(t, "GORUN_COLL_GATHER", func(t *testing.T) {
		for _, np := range groupSizes {
			errs := runRanks(t, np, true, func(c Conn) error {
				_, err := Gather(c, str{}, "x", -1)
				return err
			})
			everyRankFails(t, fmt.Sprintf("np=%d root out of range", np), errs, ErrRoot)
			if np == 1 {
				continue
			}
			bad, root := np-1, 0
			errs = runRanks(t, np, true, func(c Conn) error {
				v := "ok"
				if c.Rank() == bad {
					v = "bad"
				}
				_, err := Gather(c, failCodec{bad: "bad"}, v, root)
				return err
			})
			if !isErr(errs[bad], errBadValue) || !isErr(errs[root], ErrPeerFailed) {
				t.Errorf("np=%d: failing rank got %v, root got %v", np, errs[bad], errs[root])
			}
		}
	})
}

func TestAllgatherMatchesReference(t *testing.T) {
	withAlgs(t, "GORUN_COLL_ALLGATHER", func(t *testing.T) {
		for _, m := range modes {
			for _, np := range groupSizes {
				for _, n := range []int{0, 1, 9, 5000} {
					errs := runRanks(t, np, m.sync, func(c Conn) error {
						got, err := Allgather(c, bytesCodec{}, rankPart(c.Rank(), n))
						if err != nil {
							return err
						}
						if len(got) != np {
							return fmt.Errorf("got %d parts, want %d", len(got), np)
						}
						for r := range np {
							if !bytes.Equal(got[r], rankPart(r, n)) {
								return fmt.Errorf("part %d is wrong (%d bytes)", r, len(got[r]))
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

func TestAllgatherFailureReachesEveryRank(t *testing.T) {
	withAlgs(t, "GORUN_COLL_ALLGATHER", func(t *testing.T) {
		for _, np := range groupSizes[1:] {
			for _, bad := range []int{0, np - 1, np / 2} {
				errs := runRanks(t, np, true, func(c Conn) error {
					v := "ok"
					if c.Rank() == bad {
						v = "bad"
					}
					_, err := Allgather(c, failCodec{bad: "bad"}, v)
					return err
				})
				failedBecause(t, fmt.Sprintf("np=%d rank %d cannot encode", np, bad), errs, bad, errBadValue)
			}
		}
	})
}

func TestAlltoallMatchesReference(t *testing.T) {
	for _, m := range modes {
		for _, np := range groupSizes {
			for _, n := range []int{0, 1, 9, 5000} {
				errs := runRanks(t, np, m.sync, func(c Conn) error {
					parts := make([][]byte, np)
					for j := range parts {
						parts[j] = pattern(n+j, 100*c.Rank()+j)
					}
					got, err := Alltoall(c, bytesCodec{}, parts)
					if err != nil {
						return err
					}
					if len(got) != np {
						return fmt.Errorf("got %d parts, want %d", len(got), np)
					}
					for i := range np {
						if want := pattern(n+c.Rank(), 100*i+c.Rank()); !bytes.Equal(got[i], want) {
							return fmt.Errorf("part from rank %d is wrong", i)
						}
					}
					return nil
				})
				mustAll(t, fmt.Sprintf("%s np=%d n=%d", m.name, np, n), errs)
			}
		}
	}
}

func TestAlltoallWrongPartsFailsEverywhere(t *testing.T) {
	for _, np := range groupSizes {
		for _, bad := range []int{0, np - 1} {
			errs := runRanks(t, np, true, func(c Conn) error {
				parts := make([][]byte, np)
				if c.Rank() == bad {
					parts = parts[:np-1]
				}
				_, err := Alltoall(c, bytesCodec{}, parts)
				return err
			})
			failedBecause(t, fmt.Sprintf("np=%d rank %d short of parts", np, bad), errs, bad, ErrParts)
			for r, err := range errs {
				if !isErr(err, ErrParts) {
					t.Errorf("np=%d: rank %d error %v does not wrap ErrParts", np, r, err)
				}
			}
		}
	}
}
