//go:build linux

package collectives

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exchangeRunners run a body on np ranks through the arena (small slots,
// so that large blocks take several rounds) and by messages.
var exchangeRunners = []struct {
	name string
	run  func(t *testing.T, np int, body func(c Conn) error) []error
}{
	{"shm", func(t *testing.T, np int, body func(c Conn) error) []error {
		return runShared(t, np, testSlotBytes, testResultBytes, body)
	}},
	{"messages", func(t *testing.T, np int, body func(c Conn) error) []error {
		return runRanks(t, np, false, body)
	}},
}

// blockOf is the block rank src sends rank dest in call k of a test: n
// values, each naming its source, destination and place.
func blockOf(k, src, dest, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(k*1e9+src*1e6+dest*1e4) + float64(i)
	}
	return out
}

// TestExchangesIntoMatchReference: GatherInto, AllgatherInto and
// AlltoallInto, through the arena and by messages, at seeded random block
// lengths (zero, within a slot, several rounds) and roots, three calls in a
// row per length so that the arena's steps carry over.
func TestExchangesIntoMatchReference(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, np := range []int{1, 2, 3, 4, 5} {
		lengths := []int{0, 1, 511, 512, 513, 1 + rng.IntN(3000)}
		for _, n := range lengths {
			root := rng.IntN(np)
			for _, r := range exchangeRunners {
				label := fmt.Sprintf("%s np=%d n=%d root=%d seed=%d", r.name, np, n, root, seed)
				errs := r.run(t, np, func(c Conn) error {
					me := c.Rank()
					for k := range 3 {
						part := blockOf(k, me, -1, n)
						out := make([]float64, np*n)
						if err := GatherInto(c, rawFloat64s{}, part, out, root); err != nil {
							return fmt.Errorf("GatherInto: %w", err)
						}
						var want []float64
						for q := range np {
							want = append(want, blockOf(k, q, -1, n)...)
						}
						if me == root && !slices.Equal(out, want) {
							return fmt.Errorf("GatherInto call %d: got %v, want %v", k, head(out), head(want))
						}
						// A call that only writes headers, between two
						// that write slots.
						if _, err := Bcast(c, rawFloat64s{}, []float64{float64(k)}, root); err != nil {
							return fmt.Errorf("Bcast: %w", err)
						}
						clear(out)
						if err := AllgatherInto(c, rawFloat64s{}, part, out); err != nil {
							return fmt.Errorf("AllgatherInto: %w", err)
						}
						if !slices.Equal(out, want) {
							return fmt.Errorf("AllgatherInto call %d: got %v, want %v", k, head(out), head(want))
						}
						var send, wantRecv []float64
						for q := range np {
							send = append(send, blockOf(k, me, q, n)...)
							wantRecv = append(wantRecv, blockOf(k, q, me, n)...)
						}
						recv := make([]float64, len(send))
						if err := AlltoallInto(c, rawFloat64s{}, send, recv); err != nil {
							return fmt.Errorf("AlltoallInto: %w", err)
						}
						if !slices.Equal(recv, wantRecv) {
							return fmt.Errorf("AlltoallInto call %d: got %v, want %v", k, head(recv), head(wantRecv))
						}
					}
					if sc, ok := c.(sharedConn); ok && np > 1 && arenaFor(sc.region).steps < 12 {
						return fmt.Errorf("12 calls took %d arena steps: not all went through the arena", arenaFor(sc.region).steps)
					}
					return nil
				})
				mustAll(t, label, errs)
			}
		}
	}
}

// TestExchangesJoinedMatchReference: the slice forms that allocate, with
// parts of different lengths on each rank (several rounds in the arena).
func TestExchangesJoinedMatchReference(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	for _, np := range []int{2, 3, 5} {
		rng := rand.New(rand.NewPCG(seed, uint64(np)))
		lens := make([][]int, np) // lens[src][dest]
		for src := range lens {
			lens[src] = make([]int, np)
			for dest := range lens[src] {
				lens[src][dest] = rng.IntN(1500)
			}
			lens[src][0] = 0 // a zero-length part
		}
		root := rng.IntN(np)
		for _, r := range exchangeRunners {
			label := fmt.Sprintf("%s np=%d root=%d seed=%d", r.name, np, root, seed)
			errs := r.run(t, np, func(c Conn) error {
				me := c.Rank()
				for k := range 2 {
					part := blockOf(k, me, -1, lens[me][me])
					var want []float64
					for q := range np {
						want = append(want, blockOf(k, q, -1, lens[q][q])...)
					}
					got, err := GatherJoined(c, rawFloat64s{}, part, root)
					switch {
					case err != nil:
						return fmt.Errorf("GatherJoined: %w", err)
					case me == root && !slices.Equal(got, want):
						return fmt.Errorf("GatherJoined call %d: got %v, want %v", k, head(got), head(want))
					case me != root && got != nil:
						return fmt.Errorf("GatherJoined off the root: got %d elements, want nil", len(got))
					}
					if got, err = AllgatherJoined(c, rawFloat64s{}, part); err != nil {
						return fmt.Errorf("AllgatherJoined: %w", err)
					}
					if !slices.Equal(got, want) {
						return fmt.Errorf("AllgatherJoined call %d: got %v, want %v", k, head(got), head(want))
					}
					parts := make([][]float64, np)
					for q := range parts {
						parts[q] = blockOf(k, me, q, lens[me][q])
					}
					res, err := AlltoallSlices(c, rawFloat64s{}, parts)
					if err != nil {
						return fmt.Errorf("AlltoallSlices: %w", err)
					}
					for q := range np {
						if w := blockOf(k, q, me, lens[q][me]); !slices.Equal(res[q], w) {
							return fmt.Errorf("AlltoallSlices call %d from rank %d: got %v, want %v", k, q, head(res[q]), head(w))
						}
					}
				}
				return nil
			})
			mustAll(t, label, errs)
		}
	}
}

// TestExchangesIntoWrongLengths: a buffer of the wrong length is an
// ErrLengthMismatch on the rank that has it (on every rank through the
// arena, and for AlltoallInto by messages too); no rank hangs, and the
// group works afterwards.
func TestExchangesIntoWrongLengths(t *testing.T) {
	const np, n = 3, 600
	for _, r := range exchangeRunners {
		errs := r.run(t, np, func(c Conn) error {
			me := c.Rank()
			part := blockOf(0, me, -1, n)
			out := make([]float64, np*n)
			if me == 1 {
				out = out[:len(out)-1]
			}
			err := GatherInto(c, rawFloat64s{}, part, out, 1)
			switch {
			case me == 1 && !errors.Is(err, ErrLengthMismatch):
				return fmt.Errorf("GatherInto, root's out short: got %v, want ErrLengthMismatch", err)
			case me != 1 && r.name == "shm" && !errors.Is(err, ErrLengthMismatch):
				return fmt.Errorf("GatherInto through the arena, root's out short: got %v, want ErrLengthMismatch", err)
			case me != 1 && r.name == "messages" && err != nil:
				return fmt.Errorf("GatherInto by messages, root's out short, off the root: %v", err)
			}
			err = AllgatherInto(c, rawFloat64s{}, part, out)
			if !errors.Is(err, ErrLengthMismatch) {
				return fmt.Errorf("AllgatherInto, rank 1's out short: got %v, want ErrLengthMismatch", err)
			}
			send := make([]float64, np*n)
			if me == 2 {
				send = send[:len(send)-1]
			}
			err = AlltoallInto(c, rawFloat64s{}, send, make([]float64, len(send)))
			if !errors.Is(err, ErrLengthMismatch) {
				return fmt.Errorf("AlltoallInto, rank 2's send not 3 blocks: got %v, want ErrLengthMismatch", err)
			}
			// The group still works.
			full := make([]float64, np*n)
			return AllgatherInto(c, rawFloat64s{}, part, full)
		})
		mustAll(t, r.name, errs)
	}
}

// TestScatterInto: root's blocks reach every rank's out; data of the wrong
// length fails every rank.
func TestScatterInto(t *testing.T) {
	for _, np := range []int{1, 2, 4} {
		const n = 700
		errs := runRanks(t, np, false, func(c Conn) error {
			me := c.Rank()
			root := np - 1
			var data []float64
			if me == root {
				for q := range np {
					data = append(data, blockOf(0, root, q, n)...)
				}
			}
			out := make([]float64, n)
			if err := ScatterInto(c, float64s{}, data, out, root); err != nil {
				return err
			}
			if w := blockOf(0, root, me, n); !slices.Equal(out, w) {
				return fmt.Errorf("got %v, want %v", head(out), head(w))
			}
			if me == root {
				data = data[1:]
			}
			if err := ScatterInto(c, float64s{}, data, out, root); !errors.Is(err, ErrLengthMismatch) {
				return fmt.Errorf("root's data short: got %v, want ErrLengthMismatch", err)
			}
			return nil
		})
		mustAll(t, fmt.Sprintf("np=%d", np), errs)
	}
}

// head is the start of s, for messages.
func head(s []float64) []float64 { return s[:min(len(s), 4)] }

// TestShmExchangeDeadPeer: a rank that dies between two exchanges through
// the arena makes the others' next one fail (the arena's waits check on
// the job), not hang, and the arena is no longer offered.
func TestShmExchangeDeadPeer(t *testing.T) {
	const np, dead, n = 4, 2, 1500
	for _, kind := range []string{"GatherInto", "AllgatherInto", "AlltoallInto"} {
		start := time.Now()
		errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
			part := blockOf(0, c.Rank(), -1, n)
			out := make([]float64, np*n)
			if err := AllgatherInto(c, rawFloat64s{}, part, out); err != nil {
				return fmt.Errorf("the first call: %w", err)
			}
			if c.Rank() == dead {
				return errors.New("died")
			}
			var err error
			switch kind {
			case "GatherInto":
				err = GatherInto(c, rawFloat64s{}, part, out, 0)
			case "AllgatherInto":
				err = AllgatherInto(c, rawFloat64s{}, part, out)
			default:
				err = AlltoallInto(c, rawFloat64s{}, out, make([]float64, len(out)))
			}
			switch {
			case kind == "GatherInto" && c.Rank() != 0:
				// Only the root waits for rank 2's part; the others may
				// finish (or meet the death first).
				return nil
			case err == nil:
				return fmt.Errorf("%s: no error with a dead peer", kind)
			case arenaOf(c) != nil:
				return fmt.Errorf("%s: the arena is still offered after a failed call", kind)
			}
			return nil
		})
		for r, err := range errs {
			if r != dead && err != nil {
				t.Errorf("%s: rank %d: %v", kind, r, err)
			}
		}
		if d := time.Since(start); d > waitLimit {
			t.Errorf("%s: the survivors took %v to notice", kind, d)
		}
	}
}
