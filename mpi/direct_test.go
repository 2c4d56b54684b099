package mpi

import (
	"errors"
	"math"
	"reflect"
	"runtime"
	"testing"
	"unsafe"
)

// TestRendezvousBodyLandsInTheReceiversBuffer checks that a large numeric
// message is read straight into the receive target's memory when it has
// room, that a target without room or of another kind still gets the right
// answer (or the type error) and that no other memory is touched.
func TestRendezvousBodyLandsInTheReceiversBuffer(t *testing.T) {
	for _, mode := range []struct {
		name  string
		opts  []Option
		pulls int
	}{{"copied from the sender's memory", nil, 3}, {"read from the socket", []Option{withoutPull()}, 0}} {
		t.Run(mode.name, func(t *testing.T) {
			if mode.pulls > 0 && runtime.GOOS != "linux" {
				t.Skip("no single-copy path on this platform")
			}
			if got := testBodyLandsInBuffer(t, mode.opts); got != mode.pulls {
				t.Errorf("%d bodies copied from the sender's memory, want %d", got, mode.pulls)
			}
		})
	}
}

func testBodyLandsInBuffer(t *testing.T, opts []Option) (pulls int) {
	const n = 1 << 17 // 1 MiB of float64: well above the eager limit
	runRanksUnix(t, 2, func(c *Comm) error {
		defer func() {
			if c.Rank() == 1 {
				pulls = int(c.e.pulls.Load())
			}
		}()
		if c.Rank() == 0 {
			msg := make([]float64, n)
			for i := range msg {
				msg[i] = float64(i) / 3
			}
			for tag := 0; tag < 3; tag++ {
				if err := c.Send(msg, 1, tag); err != nil {
					return err
				}
			}
			return nil
		}
		buf := make([]float64, 10, n+100)
		data := &buf[:1][0]
		if _, err := c.Recv(&buf, 0, 0); err != nil {
			return err
		}
		if len(buf) != n || cap(buf) != n+100 || &buf[0] != data {
			return errors.New("the body did not land in the receiver's buffer")
		}
		for i, v := range buf {
			if v != float64(i)/3 {
				return errors.New("wrong value in the direct buffer")
			}
		}
		small := make([]float64, 0, 10)
		if _, err := c.Recv(&small, 0, 1); err != nil || len(small) != n || small[n-1] != float64(n-1)/3 {
			return errors.New("a target too small for the body got a wrong result")
		}
		other := make([]int32, 0, 4*n)
		_, err := c.Recv(&other, 0, 2)
		if !errors.Is(err, ErrTypeMismatch) {
			return errors.New("float64 body into []int32: no type mismatch")
		}
		if len(other) != 0 || other[:1][0] != 0 {
			return errors.New("a mismatched target's memory was written")
		}
		return nil
	}, opts...)
	return pulls
}

// withoutPull disables the single-copy path, as GORUN_SINGLE_COPY=0 does.
func withoutPull() Option { return func(c *config) { c.noPull = true } }

// TestRingAllreduceOverUnix runs a large AllreduceSlice (ring, chunks read
// straight into their place) over real sockets and checks every element and
// that every rank holds the same bits.
func TestRingAllreduceOverUnix(t *testing.T) {
	for _, np := range []int{2, 3, 4} {
		for _, opts := range [][]Option{nil, {withoutPull()}} {
			testRingAllreduceOverUnix(t, np, opts)
		}
	}
}

func testRingAllreduceOverUnix(t *testing.T, np int, opts []Option) {
	{
		const n = 300_001 // 2.4 MB of float64: ring, uneven chunks above the eager limit
		results := make([][]float64, np)
		runRanksUnix(t, np, func(c *Comm) error {
			v := make([]float64, n)
			for i := range v {
				v[i] = float64(i%1000) / float64(c.Rank()+3)
			}
			out, err := AllreduceSlice(c, v, Sum)
			results[c.Rank()] = out
			return err
		}, opts...)
		for i := 0; i < n; i += 997 {
			want := 0.0
			for r := 0; r < np; r++ {
				want += float64(i%1000) / float64(r+3)
			}
			if got := results[0][i]; math.Abs(got-want) > 1e-9*math.Abs(want) {
				t.Fatalf("np=%d: element %d is %v, want %v", np, i, got, want)
			}
		}
		for r := 1; r < np; r++ {
			for i := range results[0] {
				if math.Float64bits(results[r][i]) != math.Float64bits(results[0][i]) {
					t.Fatalf("np=%d: rank %d differs from rank 0 at element %d", np, r, i)
				}
			}
		}
	}
}

// TestReceiverThatFinalizesAtOnceCompletesTheSend: a receiver that takes a
// large body and finalizes at once must not let its goodbye overtake the
// clear-to-send that completes the sender's Send.
func TestReceiverThatFinalizesAtOnceCompletesTheSend(t *testing.T) {
	for range 40 {
		runRanksUnix(t, 4, func(c *Comm) error {
			body := make([]float64, 128<<10) // 1 MiB: rendezvous
			if c.Rank() == 0 {
				for dest := 1; dest < c.Size(); dest++ {
					if err := c.Send(body, dest, 1); err != nil {
						return err
					}
				}
				return nil
			}
			_, err := c.Recv(&body, 0, 1)
			return err
		})
		if t.Failed() {
			return
		}
	}
}

// TestDirectTargetIsTheSlicesMemory: the memory directTarget gives is the
// slice's up to its capacity, no more; on a 32-bit host, where int and
// uint take 4 bytes in memory and 8 on the wire, it gives none for them
// (a body of n ints read into 8n bytes there would run past the slice).
func TestDirectTargetIsTheSlicesMemory(t *testing.T) {
	ints := make([]int, 3, 5)
	into, kind := directTarget(&ints)
	switch {
	case unsafe.Sizeof(ints[0]) != 8 && into != nil:
		t.Errorf("[]int of %d-byte elements: %d bytes of direct memory, want none", unsafe.Sizeof(ints[0]), len(into))
	case unsafe.Sizeof(ints[0]) == 8 && (len(into) != 40 || kind != reflect.Int || unsafe.SliceData(into) != (*byte)(unsafe.Pointer(&ints[0]))):
		t.Errorf("[]int with capacity 5: %d bytes of kind %v, want its 40 bytes of int", len(into), kind)
	}
	floats := make([]float32, 0, 7)
	if into, kind := directTarget(&floats); len(into) != 28 || kind != reflect.Float32 {
		t.Errorf("[]float32 with capacity 7: %d bytes of kind %v, want 28 of float32", len(into), kind)
	}
	var none []float64
	if into, _ := directTarget(&none); into != nil {
		t.Errorf("a slice without capacity: %d bytes of direct memory", len(into))
	}
}
