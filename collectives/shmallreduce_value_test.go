//go:build linux

package collectives

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// float64Value encodes one float64 as its 8 bytes (a value codec, as the
// mpi layer's, which is never raw).
type float64Value struct{}

func (float64Value) Encode(v float64) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)), nil
}

func (float64Value) Decode(b []byte) (float64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%d bytes for a float64", len(b))
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
}

// TestShmAllreduceValue: Allreduce of a number goes through the arena by
// default (the arena's steps advance), folds the values lower rank on the
// left (an operator neither commutative nor associative shows the exact
// order), and gives every rank the same bits, call after call; with a
// message algorithm forced it agrees through the arena and gives the
// result by messages (an associative operator that is not commutative:
// recursive doubling groups the operands differently).
func TestShmAllreduceValue(t *testing.T) {
	leftFold := Op[float64]{Fn: func(a, b float64) float64 { return 3*a + b/7 }}
	rightmost := Op[float64]{Fn: func(a, b float64) float64 { return b }}
	for _, alg := range append([]string{""}, messageAlgorithms("GORUN_COLL_ALLREDUCE")...) {
		t.Run("alg="+alg, func(t *testing.T) {
			t.Setenv("GORUN_COLL_ALLREDUCE", alg)
			op := leftFold
			if alg != "" {
				op = rightmost
			}
			for _, np := range []int{2, 3, 5} {
				seed := rand.Uint64()
				const calls = 50
				val := func(call, r int) float64 {
					g := rand.New(rand.NewPCG(seed, uint64(call*64+r)))
					return g.NormFloat64() * 1e3
				}
				errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
					a := arenaFor(c.(sharedConn).region)
					for call := range calls {
						want := val(call, 0)
						for r := 1; r < np; r++ {
							want = op.Fn(want, val(call, r))
						}
						before := a.steps
						got, err := Allreduce(c, float64Value{}, val(call, c.Rank()), op)
						if err != nil {
							return fmt.Errorf("call %d: %w", call, err)
						}
						if math.Float64bits(got) != math.Float64bits(want) {
							return fmt.Errorf("call %d (seed %d): got %v, want %v (rank order)", call, seed, got, want)
						}
						if a.steps == before {
							return fmt.Errorf("call %d did not go through the arena", call)
						}
					}
					return nil
				})
				mustAll(t, fmt.Sprintf("np=%d", np), errs)
			}
		})
	}
}

// TestShmAllreduceValueNilOpFailsEverywhere: a nil operator on one rank
// fails every rank's Allreduce with ErrNilOp, and the next call works.
func TestShmAllreduceValueNilOpFailsEverywhere(t *testing.T) {
	for _, np := range []int{2, 4} {
		bad := np - 1
		errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
			op := sumF
			if c.Rank() == bad {
				op.Fn = nil
			}
			_, err := Allreduce(c, float64Value{}, 1, op)
			if !errors.Is(err, ErrNilOp) {
				return fmt.Errorf("nil op on rank %d: got %v, want ErrNilOp", bad, err)
			}
			got, err := Allreduce(c, float64Value{}, float64(c.Rank()), sumF)
			if err != nil {
				return fmt.Errorf("the call after: %w", err)
			}
			if want := float64(np * (np - 1) / 2); got != want {
				return fmt.Errorf("the call after: got %v, want %v", got, want)
			}
			return nil
		})
		mustAll(t, fmt.Sprintf("np=%d", np), errs)
	}
}

// TestShmAllreduceValueAgainstSlice: Allreduce of one number on one rank
// and AllreduceSlice of one number on the other meet in the arena's
// headers; both ranks get ErrCollectiveMismatch.
func TestShmAllreduceValueAgainstSlice(t *testing.T) {
	errs := runShared(t, 2, testSlotBytes, testResultBytes, func(c Conn) error {
		var err error
		if c.Rank() == 0 {
			_, err = Allreduce(c, float64Value{}, 1, sumF)
		} else {
			_, err = AllreduceSlice(c, rawFloat64s{}, []float64{1}, sumF)
		}
		if !errors.Is(err, ErrCollectiveMismatch) {
			return fmt.Errorf("got %v, want ErrCollectiveMismatch", err)
		}
		return nil
	})
	mustAll(t, "np=2", errs)
}

// binaryValue encodes a fixed-size number with encoding/binary (a value
// codec for the types float64Value does not cover).
type binaryValue[T any] struct{}

func (binaryValue[T]) Encode(v T) ([]byte, error) { return binary.Append(nil, binary.LittleEndian, v) }

func (binaryValue[T]) Decode(b []byte) (T, error) {
	var v T
	_, err := binary.Decode(b, binary.LittleEndian, &v)
	return v, err
}

// TestShmAllreduceValueSizes: numbers of 1, 2, 8 and 16 bytes, in
// interleaved calls, each travel in the header at their own offset
// (inlineAt) and come back summed in rank order on every rank.
func TestShmAllreduceValueSizes(t *testing.T) {
	for _, np := range []int{2, 3} {
		seed := rand.Uint64()
		errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
			a := arenaFor(c.(sharedConn).region)
			for call := range 40 {
				g := rand.New(rand.NewPCG(seed, uint64(call)))
				ints := make([]int8, np)
				cplx := make([]complex128, np)
				for r := range np {
					ints[r] = int8(g.IntN(41) - 20)
					cplx[r] = complex(g.NormFloat64(), g.NormFloat64())
				}
				before := a.steps
				gotInt, err := Allreduce(c, binaryValue[int8]{}, ints[c.Rank()], Op[int8]{Fn: func(x, y int8) int8 { return 2*x - y }})
				if err != nil {
					return fmt.Errorf("call %d int8: %w", call, err)
				}
				gotU16, err := Allreduce(c, binaryValue[uint16]{}, uint16(c.Rank()+call), Op[uint16]{Fn: func(x, y uint16) uint16 { return x*3 + y }})
				if err != nil {
					return fmt.Errorf("call %d uint16: %w", call, err)
				}
				gotC, err := Allreduce(c, binaryValue[complex128]{}, cplx[c.Rank()], Op[complex128]{Fn: func(x, y complex128) complex128 { return x*1i + y }})
				if err != nil {
					return fmt.Errorf("call %d complex128: %w", call, err)
				}
				wantInt, wantU16, wantC := ints[0], uint16(call), cplx[0]
				for r := 1; r < np; r++ {
					wantInt = 2*wantInt - ints[r]
					wantU16 = wantU16*3 + uint16(r+call)
					wantC = wantC*1i + cplx[r]
				}
				if gotInt != wantInt || gotU16 != wantU16 || gotC != wantC {
					return fmt.Errorf("call %d (seed %d): got %v %v %v, want %v %v %v", call, seed, gotInt, gotU16, gotC, wantInt, wantU16, wantC)
				}
				if a.steps-before != 3 {
					return fmt.Errorf("call %d: %d of 3 calls went through the arena", call, a.steps-before)
				}
			}
			return nil
		})
		mustAll(t, fmt.Sprintf("np=%d", np), errs)
	}
}
