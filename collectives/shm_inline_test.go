package collectives

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestShmInlineValuesNearAndFar: with the production header sizes, values
// that travel in the call header go at headerTiny (up to headerTinyBytes),
// headerNear (up to headerNearBytes) or headerInline (larger), Bcast and
// AllreduceSlice alike, and a
// failure's text (which shares headerNear's line) neither corrupts a value
// nor is corrupted by one. A seeded random sequence, the same on every
// rank, runs through every header set several times; every value is
// checked. It fails if a writer and a reader disagree on where a value of
// some size goes, or if a failure leaves a later value wrong.
func TestShmInlineValuesNearAndFar(t *testing.T) {
	t.Setenv("GORUN_COLL_BCAST", "")
	t.Setenv("GORUN_COLL_ALLREDUCE", "")
	sizes := []int{0, 1, headerTinyBytes, headerTinyBytes + 1, 16, headerNearBytes - 1, headerNearBytes, headerNearBytes + 1, 1000, 4000}
	for _, np := range []int{2, 3, 4} {
		seed := uint64(np)*7919 + 17
		errs := runShared(t, np, 16<<10, 16<<10, func(c Conn) error {
			a := arenaFor(c.(sharedConn).region)
			a.inlineBytes = arenaHeader - headerInline
			rng := rand.New(rand.NewPCG(seed, 1))
			for call := range 5 * arenaHeaderSets {
				n := sizes[rng.IntN(len(sizes))]
				root := rng.IntN(np)
				switch rng.IntN(4) {
				case 0, 1:
					var v []byte
					if c.Rank() == root {
						v = pattern(n, call)
					}
					got, err := Bcast(c, bytesCodec{}, v, root)
					if err != nil {
						return fmt.Errorf("call %d: Bcast of %d bytes from %d: %w", call, n, root, err)
					}
					if !bytes.Equal(got, pattern(n, call)) {
						return fmt.Errorf("call %d: Bcast of %d bytes from %d: got %v", call, n, root, got)
					}
				case 2:
					elems := max(n/8, 1)
					v := make([]float64, elems)
					want := make([]float64, elems)
					for i := range v {
						v[i] = float64(c.Rank()*1000 + i + call)
						for q := range np {
							want[i] += float64(q*1000 + i + call)
						}
					}
					got, err := AllreduceSlice(c, rawFloat64s{}, v, sumF)
					if err != nil {
						return fmt.Errorf("call %d: AllreduceSlice of %d elements: %w", call, elems, err)
					}
					for i := range want {
						if got[i] != want[i] {
							return fmt.Errorf("call %d: AllreduceSlice of %d elements: [%d] = %v, want %v", call, elems, i, got[i], want[i])
						}
					}
				default:
					// The root cannot encode: its failure's text goes where
					// small values go, and every rank reads it.
					v := "fine"
					if c.Rank() == root {
						v = "bad"
					}
					_, err := Bcast(c, failCodec{bad: "bad"}, v, root)
					if !errors.Is(err, errBadValue) && !errors.Is(err, ErrPeerFailed) {
						return fmt.Errorf("call %d: a root that cannot encode: got %v", call, err)
					}
					if c.Rank() != root && !bytes.Contains([]byte(err.Error()), []byte(errBadValue.Error())) {
						return fmt.Errorf("call %d: the failure's text did not arrive whole: %v", call, err)
					}
				}
			}
			return nil
		})
		mustAll(t, fmt.Sprintf("np=%d", np), errs)
	}
}
