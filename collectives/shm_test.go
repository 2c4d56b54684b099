//go:build linux

package collectives

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/shm"
	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// rawFloat64s is float64s marked raw, as the mpi layer's codec of numbers
// is: only raw slices may go through shared memory.
type rawFloat64s struct{ float64s }

func (rawFloat64s) Raw() bool { return true }

// sharedConn is a test rank with an arena. It numbers its calls, as the
// mpi package's Conn does (a CallConn that knows of no mismatch).
type sharedConn struct {
	*testConn
	region *shmcoll.Region
	calls  *uint32
}

func (c sharedConn) SharedMemory() *shmcoll.Region { return c.region }

func (c sharedConn) BeginCall(s Signature) (Signature, error) {
	*c.calls++
	s.Seq = *c.calls
	return s, nil
}

func (c sharedConn) CheckCall() error { return nil }

// Small arena sizes for tests: vectors of a few thousand elements then take
// several segments, and past 2048 float64s the result area no longer holds
// the whole result.
const (
	testSlotBytes   = 4 << 10
	testResultBytes = 16 << 10
	// testInlineBytes: values up to 8 float64s travel in the call header.
	testInlineBytes = 64
)

// runShared is runRanks with every rank given its own mapping of one real
// shared memory file, as gorun's ranks are.
func runShared(t *testing.T, np, slotBytes, resultBytes int, body func(c Conn) error) []error {
	t.Helper()
	return runSharedOn(t, np, slotBytes, resultBytes, func(*comm.Network) {}, body)
}

// runSharedOn is runShared that first shows the network to seeNet.
func runSharedOn(t *testing.T, np, slotBytes, resultBytes int, seeNet func(*comm.Network), body func(c Conn) error) []error {
	t.Helper()
	size := shmcoll.HeaderBytes(np) + np*slotBytes + resultBytes
	f, err := shm.Create("gorun-test", int64(size))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	arenas := make([]*arena, np)
	regions := make([]*shm.Region, np)
	var conns []*testConn
	for r := range np {
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		regions[r], err = shm.Map(os.NewFile(uintptr(fd), "arena"), size)
		if err != nil {
			t.Fatal(err)
		}
		defer regions[r].Close()
	}
	net := comm.NewNetwork(np)
	seeNet(net)
	return runOnNetworkWrapped(t, net, np, false, func(c *testConn) Conn {
		conns = append(conns, c)
		r := c.Rank()
		check := func() error {
			c.mu.Lock()
			defer c.mu.Unlock()
			for peer, err := range c.gone {
				return fmt.Errorf("rank %d is gone: %w", peer, err)
			}
			return nil
		}
		region, err := shmcoll.NewSized(regions[r].Bytes(), r, np, slotBytes, resultBytes,
			shmcoll.Hooks{Check: check, Spin: 20 * time.Microsecond, Yield: np > 2})
		if err != nil {
			t.Fatal(err)
		}
		a := arenaFor(region)
		a.inlineBytes = testInlineBytes
		if np > 2 {
			// As gorun binds ranks that outnumber 2 cores: ranks that
			// share a core poll while the others wait too (coremates.go).
			a.setCPU(r%2, true)
		}
		arenas[r] = a
		return sharedConn{c, region, new(uint32)}
	}, body)
}

func TestShmAllreduceMatchesReference(t *testing.T) {
	t.Setenv("GORUN_COLL_ALLREDUCE", "shm")
	for _, np := range groupSizes {
		// 0 and 1 element, one segment, several segments, and past the
		// result area (segment by segment copies).
		for _, n := range []int{0, 1, 7, 100, 512, 513, 1500, 2048, 2049, 5000} {
			want := operandSums(np, n)
			label := fmt.Sprintf("np=%d n=%d", np, n)
			errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
				v := rankOperand(c.Rank(), n)
				// Twice: the counters and the slots carry over between calls.
				for range 2 {
					got, err := AllreduceSlice(c, rawFloat64s{}, v, sumF)
					if err != nil {
						return err
					}
					if err := checkSum(got, want, v, c.Rank()); err != nil {
						return err
					}
				}
				return nil
			})
			mustAll(t, label, errs)
		}
	}
}

// TestShmAllreduceIsTheDefault: without GORUN_COLL_ALLREDUCE, vectors of
// numbers small and large go through the arena (its step counter moves);
// a codec that is not raw does not.
func TestShmAllreduceIsTheDefault(t *testing.T) {
	t.Setenv("GORUN_COLL_ALLREDUCE", "")
	const np = 3
	errs := runShared(t, np, 64<<10, 128<<10, func(c Conn) error {
		a := arenaFor(c.(sharedConn).region)
		for _, n := range []int{1, 1 << 14} {
			before := a.steps
			if _, err := AllreduceSlice(c, rawFloat64s{}, make([]float64, n), sumF); err != nil {
				return err
			}
			if a.steps == before {
				return fmt.Errorf("%d elements did not go through shared memory", n)
			}
		}
		before := a.steps
		if _, err := AllreduceSlice(c, float64s{}, make([]float64, 1<<14), sumF); err != nil {
			return err
		}
		if a.steps != before {
			return fmt.Errorf("a codec that is not raw went through shared memory")
		}
		return nil
	})
	mustAll(t, "np=3", errs)
}

// TestShmAgreementForMessageAlgorithms: with an arena, a forced message
// algorithm is agreed on through it (one step) and then moves the data by
// messages, with the right result; a mismatch found in the headers fails
// every rank and leaves the arena usable.
func TestShmAgreementForMessageAlgorithms(t *testing.T) {
	for _, alg := range messageAlgorithms("GORUN_COLL_ALLREDUCE") {
		t.Run(alg, func(t *testing.T) {
			t.Setenv("GORUN_COLL_ALLREDUCE", alg)
			for _, np := range []int{2, 3, 5} {
				const n = 5000
				errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
					a := arenaFor(c.(sharedConn).region)
					v := rankOperand(c.Rank(), n)
					got, err := AllreduceSlice(c, rawFloat64s{}, v, sumF)
					if err != nil {
						return err
					}
					if err := sameElements(got, operandSums(np, n)); err != nil {
						return err
					}
					if a.steps != 1 {
						return fmt.Errorf("the agreement took %d arena steps, want 1", a.steps)
					}
					m := n
					if c.Rank() == np-1 {
						m++
					}
					if _, err := AllreduceSlice(c, rawFloat64s{}, make([]float64, m), sumF); !errors.Is(err, ErrLengthMismatch) {
						return fmt.Errorf("lengths differ: got %v, want ErrLengthMismatch", err)
					}
					if arenaOf(c) == nil {
						return fmt.Errorf("the arena is no longer offered after a mismatch")
					}
					return nil
				})
				mustAll(t, fmt.Sprintf("np=%d", np), errs)
			}
		})
	}
}

// TestShmAllreduceNilOpFailsEverywhere: a nil operator on one rank is
// reported on every rank, as ErrNilOp.
func TestShmAllreduceNilOpFailsEverywhere(t *testing.T) {
	for _, np := range []int{2, 4} {
		for _, bad := range []int{0, np - 1} {
			errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
				op := sumF
				if c.Rank() == bad {
					op.Fn = nil
				}
				_, err := AllreduceSlice(c, rawFloat64s{}, make([]float64, 3000), op)
				return err
			})
			everyRankFails(t, fmt.Sprintf("np=%d nil op on rank %d", np, bad), errs, ErrNilOp)
		}
	}
}

// TestShmAllreduceRankOrder: a user operator that is not commutative is
// applied lower rank on the left, and every rank gets the same bits.
func TestShmAllreduceRankOrder(t *testing.T) {
	t.Setenv("GORUN_COLL_ALLREDUCE", "shm")
	op := Op[float64]{Fn: func(a, b float64) float64 { return 3*a + b/7 }}
	for _, np := range []int{2, 3, 5, 8} {
		// Within the result area (copied out at the end) and past it.
		for _, n := range []int{1500, 3000} {
			rankOrder(t, np, n, op)
		}
	}
}

// rankOrder checks that AllreduceSlice of n elements at np ranks with the
// non-commutative op combines in rank order on every rank.
func rankOrder(t *testing.T, np, n int, op Op[float64]) {
	t.Helper()
	want := make([]float64, n)
	val := func(r, i int) float64 { return math.Pi*float64(r+1) + 1e-3*float64(i) }
	for i := range want {
		want[i] = val(0, i)
		for r := 1; r < np; r++ {
			want[i] = op.Fn(want[i], val(r, i))
		}
	}
	errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
		v := make([]float64, n)
		for i := range v {
			v[i] = val(c.Rank(), i)
		}
		got, err := AllreduceSlice(c, rawFloat64s{}, v, op)
		if err != nil {
			return err
		}
		for i := range got {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				return fmt.Errorf("element %d = %v, want %v (rank order)", i, got[i], want[i])
			}
		}
		return nil
	})
	mustAll(t, fmt.Sprintf("np=%d n=%d", np, n), errs)
}

func TestShmAllreduceLengthMismatchFailsEverywhere(t *testing.T) {
	t.Setenv("GORUN_COLL_ALLREDUCE", "shm")
	for _, np := range []int{2, 3, 5} {
		errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
			n := 1000
			if c.Rank() == np-1 {
				n = 1001
			}
			_, err := AllreduceSlice(c, rawFloat64s{}, make([]float64, n), sumF)
			return err
		})
		everyRankFails(t, fmt.Sprintf("np=%d", np), errs, ErrLengthMismatch)
	}
}

// TestShmAllreduceDeadPeer: a rank that dies inside the shared-memory
// phase (here: never copies its operand in, and its transport closes) ends
// the others' call with an error instead of a hang, and the arena is not
// used again.
func TestShmAllreduceDeadPeer(t *testing.T) {
	const np, dead = 4, 2
	start := time.Now()
	errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
		a := arenaFor(c.(sharedConn).region)
		if c.Rank() == dead {
			return errors.New("died")
		}
		_, err := shmAllreduce(a, Signature{Call: Call{Kind: KindAllreduceSlice}, Root: -1, Count: -1}, nil, make([]float64, 3000), nil, sumF, algShm, nil)
		if err == nil {
			return errors.New("no error with a dead peer")
		}
		if arenaOf(c) != nil {
			return errors.New("the arena is still offered after a failed call")
		}
		return nil
	})
	for r, err := range errs {
		if r != dead && err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
	if d := time.Since(start); d > waitLimit {
		t.Errorf("the survivors took %v to notice", d)
	}
}

// TestShmLongCall: a call moving longCallBytes or more per rank is marked
// long while its ranks wait (ranks sharing cores then sleep at once instead
// of polling), a smaller one is not, and the mark ends with the call. Rank
// 0 enters each call only once every other rank has run Check in it, so the
// others are known to have waited (however slowly a loaded machine lets
// them reach Check).
func TestShmLongCall(t *testing.T) {
	t.Setenv("GORUN_COLL_ALLREDUCE", "")
	const np = 3
	sizes := []int{longCallBytes/8 + 1000, 1000} // float64s: two segments, then one
	checked := make([]chan struct{}, len(sizes)) // one signal per waiting rank and call
	for i := range checked {
		checked[i] = make(chan struct{}, np)
	}
	errs := runShared(t, np, 1<<20, 4<<20, func(c Conn) error {
		a := arenaFor(c.(sharedConn).region)
		var seen []bool
		round := 0
		check := a.hooks.Check
		a.hooks.Check = func() error {
			if len(seen) == 0 && c.Rank() != 0 {
				checked[round] <- struct{}{}
			}
			seen = append(seen, a.long)
			return check()
		}
		for i, n := range sizes {
			round = i
			v := rankOperand(c.Rank(), n)
			seen = nil
			if c.Rank() == 0 {
				for range np - 1 {
					select {
					case <-checked[i]:
					case <-time.After(time.Minute):
						return fmt.Errorf("%d elements: the other ranks never ran Check while rank 0 stayed away", n)
					}
				}
			}
			got, err := AllreduceSlice(c, rawFloat64s{}, v, sumF)
			if err != nil {
				return err
			}
			if err := checkSum(got, operandSums(np, n), v, c.Rank()); err != nil {
				return err
			}
			long := n*8 >= longCallBytes
			for _, mark := range seen {
				if mark != long {
					return fmt.Errorf("%d elements: waited with the call marked long=%v, want %v", n, mark, long)
				}
			}
			if a.long {
				return fmt.Errorf("%d elements: the arena is still marked long after the call", n)
			}
		}
		return nil
	})
	mustAll(t, "long call", errs)
}

// testPieceBytes: tests post a large Bcast in pieces this small.
const testPieceBytes = 1000

// bcastSteps is the number of arena steps a Bcast of n bytes takes: one
// per piece, and one when it fits the call header or goes by messages.
func bcastSteps(a *arena, n int) uint32 {
	if n <= a.inlineBytes || n > a.slotBytes || os.Getenv("GORUN_COLL_BCAST") != "" {
		return 1
	}
	return uint32(max(1, (n+testPieceBytes-1)/testPieceBytes))
}

// TestShmBcast: through the arena, every root and size (up to a slot, in
// pieces, and past a slot by messages), an algorithm forced by
// GORUN_COLL_BCAST, and a root that cannot encode its value; the arena
// stays in step throughout.
func TestShmBcast(t *testing.T) {
	for _, forced := range []string{"", "binomial"} {
		t.Setenv("GORUN_COLL_BCAST", forced)
		for _, np := range []int{2, 3, 5, 8} {
			errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
				a := arenaFor(c.(sharedConn).region)
				a.pieceBytes = testPieceBytes
				for _, n := range []int{0, 1, 1000, 2500, testSlotBytes, testSlotBytes + 1, 3 * testSlotBytes} {
					for _, root := range []int{0, np - 1, np / 2} {
						var v []byte
						if c.Rank() == root {
							v = pattern(n, root)
						}
						before := a.steps
						got, err := Bcast(c, bytesCodec{}, v, root)
						if err != nil {
							return fmt.Errorf("n=%d root=%d: %w", n, root, err)
						}
						if !bytes.Equal(got, pattern(n, root)) {
							return fmt.Errorf("n=%d root=%d: got %d bytes, not the root's", n, root, len(got))
						}
						if want := bcastSteps(a, n); a.steps != before+want {
							return fmt.Errorf("n=%d root=%d: the call took %d arena steps, want %d", n, root, a.steps-before, want)
						}
					}
				}
				// An encoding failure on the root reaches every rank, and
				// the next call still works.
				v := "fine"
				if c.Rank() == 1 {
					v = "bad"
				}
				if _, err := Bcast(c, failCodec{bad: "bad"}, v, 1); !errors.Is(err, errBadValue) && !errors.Is(err, ErrPeerFailed) {
					return fmt.Errorf("root cannot encode: got %v", err)
				}
				s, err := Bcast(c, str{}, fmt.Sprint("from ", np-1), np-1)
				if err != nil || s != fmt.Sprint("from ", np-1) {
					return fmt.Errorf("after a failure: %q, %v", s, err)
				}
				return nil
			})
			mustAll(t, fmt.Sprintf("forced=%q np=%d", forced, np), errs)
		}
	}
}

// TestShmSmallBcastDoesNotWaitForThePreviousCall: a root whose value fits
// the call header goes on without waiting for the others to finish the
// previous call (they use the other header set): here it broadcasts twice
// before they even start the first. A value in the slot waits for every
// rank to finish the previous call: the others hold back before the second
// broadcast until the root has finished the third, or a while. Each rank
// still gets the three values in order.
func TestShmSmallBcastDoesNotWaitForThePreviousCall(t *testing.T) {
	t.Setenv("GORUN_COLL_BCAST", "")
	const np = 3
	released, held := make(chan struct{}), make(chan struct{})
	var enteredSecond atomic.Int32
	values := []string{"one", "two", strings.Repeat("x", 3*testInlineBytes)}
	errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
		if c.Rank() == 0 {
			for i, v := range values {
				if _, err := Bcast(c, str{}, v, 0); err != nil {
					return err
				}
				switch i {
				case 1:
					close(released)
				case 2:
					close(held)
					if n := enteredSecond.Load(); n != np-1 {
						return fmt.Errorf("the root finished a broadcast in its slot with %d ranks still in the call before", np-1-n)
					}
				}
			}
			return nil
		}
		select {
		case <-released:
		case <-time.After(waitLimit):
			return errors.New("the root waited for this rank before its second small broadcast")
		}
		for i, want := range values {
			if i == 1 {
				select {
				case <-held:
				case <-time.After(200 * time.Millisecond):
				}
				enteredSecond.Add(1)
			}
			got, err := Bcast(c, str{}, "", 0)
			if err != nil || got != want {
				return fmt.Errorf("got %.10q, %v; want %.10q", got, err, want)
			}
		}
		return nil
	})
	mustAll(t, "small bcast", errs)
}

// TestBcastInto: root's vector lands in every rank's own buffer (which is
// what the call returns into: no new slice), with and without an arena,
// in pieces and whole, past a slot by messages, from every root; a rank
// whose buffer has the wrong length gets ErrLengthMismatch while the others
// succeed, and the next call still works.
func TestBcastInto(t *testing.T) {
	for _, shared := range []bool{true, false} {
		for _, np := range []int{2, 3, 5, 8} {
			label := fmt.Sprintf("shared=%v np=%d", shared, np)
			body := func(c Conn) error {
				var a *arena
				if sc, ok := c.(sharedConn); ok {
					a = arenaFor(sc.region)
					a.pieceBytes = testPieceBytes
				}
				for _, n := range []int{0, 1, 100, 125, 300, testSlotBytes / 8, testSlotBytes/8 + 1, 1000} {
					for _, root := range []int{0, np - 1, np / 2} {
						buf := make([]float64, n)
						for i := range buf {
							buf[i] = -1 // stale data the call must overwrite
							if c.Rank() == root {
								buf[i] = operand(root, i)
							}
						}
						mem := unsafe.SliceData(buf)
						var before uint32
						if a != nil {
							before = a.steps
						}
						if err := BcastInto(c, rawFloat64s{}, buf, root); err != nil {
							return fmt.Errorf("n=%d root=%d: %w", n, root, err)
						}
						if unsafe.SliceData(buf) != mem {
							return fmt.Errorf("n=%d root=%d: the buffer moved", n, root)
						}
						for i := range buf {
							if buf[i] != operand(root, i) {
								return fmt.Errorf("n=%d root=%d: element %d = %v, want %v", n, root, i, buf[i], operand(root, i))
							}
						}
						if a == nil {
							continue
						}
						if want := bcastSteps(a, 8*n); a.steps != before+want {
							return fmt.Errorf("n=%d root=%d: the call took %d arena steps, want %d", n, root, a.steps-before, want)
						}
					}
				}
				// A short buffer off the root: that rank alone fails, in
				// shared memory and by messages, and the next call works.
				for _, n := range []int{300, testSlotBytes/8 + 1} {
					buf := make([]float64, n)
					if c.Rank() == 1 {
						buf = buf[:n-1]
					}
					err := BcastInto(c, rawFloat64s{}, buf, 0)
					switch {
					case c.Rank() == 1 && !errors.Is(err, ErrLengthMismatch):
						return fmt.Errorf("n=%d: a short buffer gave %v, want ErrLengthMismatch", n, err)
					case c.Rank() != 1 && err != nil:
						return fmt.Errorf("n=%d: rank 1's short buffer failed this rank: %w", n, err)
					}
					s, err := Bcast(c, str{}, fmt.Sprint("after ", n), 1)
					if err != nil || s != fmt.Sprint("after ", n) {
						return fmt.Errorf("n=%d: the next call gave %q, %v", n, s, err)
					}
				}
				return nil
			}
			if shared {
				mustAll(t, label, runShared(t, np, testSlotBytes, testResultBytes, body))
			} else {
				mustAll(t, label, runRanks(t, np, false, body))
			}
		}
	}
}

// TestShmBarrier: no rank leaves the barrier before the last one entered
// it, round after round, with ranks entering late in turn.
func TestShmBarrier(t *testing.T) {
	const np, rounds = 4, 20
	var entered, left [rounds][np]time.Time
	errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
		for r := range rounds {
			if r%np == c.Rank() {
				time.Sleep(5 * time.Millisecond)
			}
			entered[r][c.Rank()] = time.Now()
			if err := Barrier(c); err != nil {
				return err
			}
			left[r][c.Rank()] = time.Now()
		}
		return nil
	})
	mustAll(t, "barrier", errs)
	for r := range rounds {
		last := entered[r][0]
		for _, e := range entered[r] {
			if e.After(last) {
				last = e
			}
		}
		for q, l := range left[r] {
			if l.Before(last) {
				t.Errorf("round %d: rank %d left at %v, before the last rank entered (%v)", r, q, l, last)
			}
		}
	}
}

// TestShmMismatchedCollectives: ranks that call different collectives get
// errors naming both calls, not each other's data.
func TestShmMismatchedCollectives(t *testing.T) {
	errs := runShared(t, 2, testSlotBytes, testResultBytes, func(c Conn) error {
		if c.Rank() == 0 {
			return Barrier(c)
		}
		_, err := AllreduceSlice(c, rawFloat64s{}, []float64{1, 2, 3}, sumF)
		return err
	})
	for r, err := range errs {
		if !errors.Is(err, ErrCollectiveMismatch) || !strings.Contains(fmt.Sprint(err), "called Barrier while") &&
			!strings.Contains(fmt.Sprint(err), "while rank 0 called Barrier") {
			t.Errorf("rank %d: got %v, want ErrCollectiveMismatch naming both calls", r, err)
		}
	}
}

// TestShmMismatchBarrierAgainstBcast: rank 0 in Barrier waits for an
// arrival that ranks in Bcast never post; it finds the root's header, of
// another call, while it waits. The root completes its call (the mpi
// layer's alarm tells it later); rank 2, waiting for the root, may find
// rank 0's header first. The Bcast ranks return only once rank 0 has (a
// rank that fails closes its transport).
func TestShmMismatchBarrierAgainstBcast(t *testing.T) {
	rank0 := make(chan struct{})
	errs := runShared(t, 3, testSlotBytes, testResultBytes, func(c Conn) error {
		if c.Rank() == 0 {
			defer close(rank0)
			return Barrier(c)
		}
		_, err := Bcast[string](c, str{}, "x", 1)
		<-rank0
		return err
	})
	want := "collective mismatch: rank 0 called Barrier while rank 1 called Bcast(root 1)"
	if errs[0] == nil || errs[0].Error() != want || !errors.Is(errs[0], ErrCollectiveMismatch) {
		t.Errorf("rank 0: %v, want %q", errs[0], want)
	}
	if errs[1] != nil {
		t.Errorf("rank 1 (the root): %v", errs[1])
	}
	if want := "collective mismatch: rank 2 called Bcast(root 1) while rank 0 called Barrier"; errs[2] != nil && errs[2].Error() != want {
		t.Errorf("rank 2: %v, want nil or %q", errs[2], want)
	}
}

// TestShmMismatchRoots: two ranks that each broadcast as root read no
// header but their own; the next call that reads every header (a Barrier)
// finds the two calls, on every rank.
func TestShmMismatchRoots(t *testing.T) {
	expectTwoRootsFound(t, nil, Barrier)
}

// TestShmMismatchRootsAfterMatchedCalls: a Barrier and an Allreduce that
// read every header and found them alike spare the next call a second look
// at them (lastMatchedAll), but a Bcast in between reads only its root's:
// the Allreduce after it still finds the two roots, on every rank, and
// calls that match go on without a mismatch.
func TestShmMismatchRootsAfterMatchedCalls(t *testing.T) {
	allreduce := func(c Conn) error {
		_, err := Allreduce(c, float64Value{}, 1, sumF)
		return err
	}
	before := func(c Conn) error {
		for range 3 {
			if err := Barrier(c); err != nil {
				return fmt.Errorf("a matching Barrier: %w", err)
			}
			if err := allreduce(c); err != nil {
				return fmt.Errorf("a matching Allreduce: %w", err)
			}
		}
		return nil
	}
	expectTwoRootsFound(t, before, allreduce)
}

// expectTwoRootsFound runs, on 3 ranks sharing an arena, before (when not
// nil), then a Bcast whose root is 0 on rank 0 and 1 on the others, then
// next, and checks that every rank got the mismatch of the two Bcasts,
// found in the call after them. (Rank 2 starts its Bcast once rank 1, its
// root, has posted, so that it does not wait and find rank 0's header
// meanwhile.)
func expectTwoRootsFound(t *testing.T, before, next func(Conn) error) {
	t.Helper()
	posted := make(chan struct{})
	errs := runShared(t, 3, testSlotBytes, testResultBytes, func(c Conn) error {
		if before != nil {
			if err := before(c); err != nil {
				return err
			}
		}
		root := 1
		switch c.Rank() {
		case 0:
			root = 0
		case 2:
			<-posted
		}
		_, err := Bcast[string](c, str{}, "x", root)
		if c.Rank() == 1 {
			close(posted)
		}
		if err != nil {
			return err
		}
		return next(c)
	})
	for r, err := range errs {
		if !errors.Is(err, ErrCollectiveMismatch) || !strings.Contains(fmt.Sprint(err), "called Bcast(root 0)") ||
			!strings.Contains(fmt.Sprint(err), "called Bcast(root 1)") || !strings.Contains(fmt.Sprint(err), "call before") {
			t.Errorf("rank %d: %v, want a mismatch of Bcast(root 0) and Bcast(root 1) in the call before", r, err)
		}
	}
}

// TestShmMismatchElementTypes: a rank that reads the root's header finds
// that it broadcasts another type.
func TestShmMismatchElementTypes(t *testing.T) {
	errs := runShared(t, 2, testSlotBytes, testResultBytes, func(c Conn) error {
		if c.Rank() == 0 {
			_, err := Bcast[string](c, str{}, "x", 0)
			return err
		}
		_, err := Bcast[[]float64](c, float64s{}, nil, 0)
		return err
	})
	want := "collective mismatch: rank 1 called Bcast(root 0, of slice) while rank 0 called Bcast(root 0, of string)"
	if errs[0] != nil || errs[1] == nil || errs[1].Error() != want {
		t.Errorf("got %v, want nil and %q", errs, want)
	}
}

// TestAllreduceSliceInto: the result lands in the caller's slice, also when
// it is the operand itself, with and without an arena, with a built-in and
// a user operator; a result slice of the wrong length on one rank fails
// every rank.
func TestAllreduceSliceInto(t *testing.T) {
	userSum := Op[float64]{Fn: func(a, b float64) float64 { return a + b }}
	for _, shared := range []bool{true, false} {
		for _, np := range []int{2, 3, 5} {
			for _, n := range []int{0, 1, 100, 1500, 5000} {
				for _, inPlace := range []bool{false, true} {
					for _, op := range []Op[float64]{sumF, userSum} {
						label := fmt.Sprintf("shared=%v np=%d n=%d in place=%v commutative=%v", shared, np, n, inPlace, op.Commutative)
						body := func(c Conn) error {
							v := rankOperand(c.Rank(), n)
							out := v
							if !inPlace {
								out = make([]float64, n)
							}
							if err := AllreduceSliceInto(c, rawFloat64s{}, v, out, op); err != nil {
								return err
							}
							return sameElements(out, operandSums(np, n))
						}
						var errs []error
						if shared {
							errs = runShared(t, np, testSlotBytes, testResultBytes, body)
						} else {
							errs = runRanks(t, np, false, body)
						}
						mustAll(t, label, errs)
					}
				}
			}
		}
		short := func(c Conn) error {
			out := make([]float64, 10)
			if c.Rank() == 1 {
				out = out[:9]
			}
			return AllreduceSliceInto(c, rawFloat64s{}, make([]float64, 10), out, sumF)
		}
		errs := runRanks(t, 3, false, short)
		if shared {
			errs = runShared(t, 3, testSlotBytes, testResultBytes, short)
		}
		everyRankFails(t, fmt.Sprintf("shared=%v: a short result slice on rank 1", shared), errs, ErrLengthMismatch)
	}
}

// TestShmPeerFinishingAfterTheCallIsNoFailure: a rank that leaves a barrier
// and finishes at once (its transport closes, as Finalize does) must not
// fail the ranks still waking up in the same barrier: everything they wait
// for was posted before it left.
func TestShmPeerFinishingAfterTheCallIsNoFailure(t *testing.T) {
	for round := range 10 {
		const np = 4
		var net *comm.Network
		errs := runSharedOn(t, np, testSlotBytes, testResultBytes, func(n *comm.Network) { net = n }, func(c Conn) error {
			if c.Rank() != 1 {
				time.Sleep(30 * time.Millisecond) // rank 1 sleeps in the wait, past a check interval
			}
			if err := Barrier(c); err != nil {
				return err
			}
			if c.Rank() == 0 {
				net.Transport(0).Close()
			}
			return nil
		})
		mustAll(t, fmt.Sprint("round ", round), errs)
	}
}
