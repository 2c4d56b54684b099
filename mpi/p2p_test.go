package mpi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
)

func TestOrderPerSourceAndTag(t *testing.T) {
	const n = 2000
	runRanks(t, 3, func(c *Comm) error {
		if c.Rank() != 0 {
			for i := 0; i < n; i++ {
				if err := c.Send(i*10+c.Rank(), 0, 7); err != nil {
					return err
				}
			}
			return nil
		}
		next := map[int]int{1: 0, 2: 0}
		for i := 0; i < 2*n; i++ {
			var v int
			st, err := c.Recv(&v, AnySource, 7)
			if err != nil {
				return err
			}
			want := next[st.Source]*10 + st.Source
			if v != want {
				return fmt.Errorf("from %d got %d, want %d (overtaken)", st.Source, v, want)
			}
			next[st.Source]++
		}
		return nil
	})
}

func TestWildcardsAndUnexpectedQueue(t *testing.T) {
	runRanks(t, 2, func(c *Comm) error {
		if c.Rank() == 1 {
			for tag, v := range []string{"a", "b", "c"} {
				if err := c.Send(v, 0, tag); err != nil {
					return err
				}
			}
			return c.Send("done", 0, 99)
		}
		// Wait until everything is unexpected, then receive out of order by tag.
		if _, err := c.Probe(1, 99); err != nil {
			return err
		}
		var s string
		st, err := c.Recv(&s, 1, 2)
		if err != nil || s != "c" || st.Tag != 2 || st.Source != 1 {
			return fmt.Errorf("tag 2: got %q %+v %v", s, st, err)
		}
		st, err = c.Recv(&s, AnySource, AnyTag)
		if err != nil || s != "a" || st.Tag != 0 {
			return fmt.Errorf("any: got %q %+v %v, want the oldest (a)", s, st, err)
		}
		for _, want := range []string{"b", "done"} {
			if _, err := c.Recv(&s, AnySource, AnyTag); err != nil || s != want {
				return fmt.Errorf("got %q %v, want %q", s, err, want)
			}
		}
		return nil
	})
}

func TestProbeThenRecvGetsProbedMessage(t *testing.T) {
	runRanks(t, 3, func(c *Comm) error {
		if c.Rank() != 0 {
			if err := c.Send([]float64{float64(c.Rank()), 1.5}, 0, c.Rank()); err != nil {
				return err
			}
			_, err := c.Recv(new(string), 0, 0) // stay until rank 0 has probed
			return err
		}
		for i := 0; i < 2; i++ {
			st, err := c.Probe(AnySource, AnyTag)
			if err != nil {
				return err
			}
			if st.Size != 16 {
				return fmt.Errorf("probe size %d, want 16 bytes", st.Size)
			}
			var v []float64
			got, err := c.Recv(&v, st.Source, st.Tag)
			if err != nil || got != st || v[0] != float64(st.Source) {
				return fmt.Errorf("recv after probe %+v: got %+v %v %v", st, got, v, err)
			}
		}
		_, found, err := c.Iprobe(AnySource, AnyTag)
		if found || err != nil {
			return fmt.Errorf("Iprobe found a message after all were received (%v)", err)
		}
		for p := 1; p < c.Size(); p++ {
			if err := c.Send("bye", p, 0); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestRendezvousAndSsendWaitForReceiver(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(c *Comm, v any) error
		size int
	}{
		{"Ssend small", func(c *Comm, v any) error { return c.Ssend(v, 1, 0) }, 8},
		{"Send above eager limit", func(c *Comm, v any) error { return c.Send(v, 1, 0) }, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var posted atomic.Bool
			runRanks(t, 2, func(c *Comm) error {
				payload := make([]byte, tc.size)
				payload[tc.size-1] = 42
				if c.Rank() == 0 {
					if err := tc.send(c, payload); err != nil {
						return err
					}
					return expect(posted.Load(), "send returned before the receive was posted")
				}
				time.Sleep(100 * time.Millisecond)
				posted.Store(true)
				var got []byte
				_, err := c.Recv(&got, 0, 0)
				if err != nil {
					return err
				}
				return expect(len(got) == tc.size && got[tc.size-1] == 42, "payload damaged: %d bytes", len(got))
			}, WithEagerLimit(1024))
		})
	}
}

func TestSmallSendReturnsBeforeReceive(t *testing.T) {
	var received atomic.Bool
	runRanks(t, 2, func(c *Comm) error {
		if c.Rank() == 0 {
			if err := c.Send("hi", 1, 0); err != nil {
				return err
			}
			if received.Load() {
				return errors.New("eager Send waited for the receive")
			}
			return c.Send("go", 1, 1)
		}
		var s string
		if _, err := c.Recv(&s, 0, 1); err != nil {
			return err
		}
		received.Store(true)
		_, err := c.Recv(&s, 0, 0)
		return err
	})
}

func TestTypeMismatchConsumesOnlyThatMessage(t *testing.T) {
	runRanks(t, 2, func(c *Comm) error {
		if c.Rank() == 1 {
			c.Send("text", 0, 3)
			c.Send([]float64{1, 2}, 0, 3)
			return c.Send(17, 0, 3)
		}
		var n int
		_, err := c.Recv(&n, 1, 3)
		var me *Error
		if !errors.Is(err, ErrTypeMismatch) || !errors.As(err, &me) {
			return fmt.Errorf("string into *int: got %v, want ErrTypeMismatch", err)
		}
		msg := err.Error()
		for _, part := range []string{"rank 0", "Recv", "from 1", "tag 3", "string", "*int"} {
			if !strings.Contains(msg, part) {
				return fmt.Errorf("error %q does not mention %q", msg, part)
			}
		}
		var f32 []float32
		if _, err := c.Recv(&f32, 1, 3); !errors.Is(err, ErrTypeMismatch) || !strings.Contains(err.Error(), "[]float64") {
			return fmt.Errorf("[]float64 into *[]float32: %v", err)
		}
		_, err = c.Recv(&n, 1, 3)
		return expect(err == nil && n == 17, "next message after mismatches: %d %v", n, err)
	})
}

func TestBadArguments(t *testing.T) {
	runRanks(t, 2, func(c *Comm) error {
		checks := []struct {
			err  error
			want error
		}{
			{c.Send(1, 2, 0), ErrRank},
			{c.Send(1, -1, 0), ErrRank},
			{c.Send(1, 0, -1), ErrTag},
			{c.Isend(1, 5, 0).waitErr(), ErrRank},
			{recvErr(c.Recv(new(int), 7, 0)), ErrRank},
			{recvErr(c.Recv(new(int), 0, -5)), ErrTag},
			{recvErr(c.Recv(3, 0, 0)), ErrNotPointer},
			{recvErr(c.Recv((*int)(nil), 0, 0)), ErrNotPointer},
			{c.Send(make(chan int), 0, 0), ErrEncode},
		}
		for i, ch := range checks {
			if !errors.Is(ch.err, ch.want) {
				return fmt.Errorf("check %d: got %v, want %v", i, ch.err, ch.want)
			}
		}
		// A bad call consumed nothing: the real message is still there.
		if err := c.Send("ok", 1-c.Rank(), 0); err != nil {
			return err
		}
		var s string
		_, err := c.Recv(&s, 1-c.Rank(), 0)
		return expect(err == nil && s == "ok", "after bad calls: %q %v", s, err)
	})
}

func (r *Request) waitErr() error       { _, err := r.Wait(); return err }
func recvErr(_ Status, err error) error { return err }

func TestNumericSlicesAndTypes(t *testing.T) {
	type Vec []float64
	type Point struct {
		X, Y int
		Name string
	}
	runRanks(t, 2, func(c *Comm) error {
		if c.Rank() == 0 {
			c.Send(Vec{1.5, -2}, 1, 0)
			c.Send([]int{1, -2, 3}, 1, 1)
			c.Send([]int32(nil), 1, 2)
			c.Send([]uint16{}, 1, 3)
			c.Send(Point{1, 2, "p"}, 1, 4)
			c.Send([]complex128{1 + 2i}, 1, 5)
			return c.Send(make([]float64, 100000), 1, 6) // rendezvous, raw
		}
		var v Vec
		var i64 []int64
		var i32 []int32
		var u16 []uint16
		var p Point
		var anyv any
		var big []float64
		for _, step := range []struct {
			ptr any
			tag int
		}{{&v, 0}, {&i64, 1}, {&i32, 2}, {&u16, 3}, {&p, 4}, {&anyv, 5}, {&big, 6}} {
			if _, err := c.Recv(step.ptr, 0, step.tag); err != nil {
				return err
			}
		}
		if !slices.Equal(v, Vec{1.5, -2}) || !slices.Equal(i64, []int64{1, -2, 3}) || i32 != nil ||
			u16 == nil || len(u16) != 0 || p != (Point{1, 2, "p"}) || len(big) != 100000 {
			return fmt.Errorf("decoded %v %v %v %v %v %d", v, i64, i32, u16, p, len(big))
		}
		return expect(slices.Equal(anyv.([]complex128), []complex128{1 + 2i}), "any: %#v", anyv)
	})
}

func TestNonBlockingRequests(t *testing.T) {
	runRanks(t, 4, func(c *Comm) error {
		var reqs []*Request
		vals := make([]int, c.Size())
		for p := 0; p < c.Size(); p++ {
			reqs = append(reqs, c.Irecv(&vals[p], p, 1))
		}
		big := make([]int64, 50000)
		big[0] = int64(c.Rank())
		bigs := make([][]int64, c.Size())
		for p := 0; p < c.Size(); p++ {
			reqs = append(reqs, c.Isend(c.Rank()*100+p, p, 1), c.Isend(big, p, 2), c.Irecv(&bigs[p], p, 2))
		}
		if err := WaitAll(reqs...); err != nil {
			return err
		}
		for p := range vals {
			if vals[p] != p*100+c.Rank() || bigs[p][0] != int64(p) {
				return fmt.Errorf("from %d: %d / %d", p, vals[p], bigs[p][0])
			}
		}
		// WaitAny and Test
		var a, b string
		r1, r2 := c.Irecv(&a, AnySource, 5), c.Irecv(&b, AnySource, 6)
		if _, done, err := r1.Test(); done || err != nil {
			return fmt.Errorf("Test completed a receive with nothing sent (%v)", err)
		}
		next := (c.Rank() + 1) % c.Size()
		if err := c.Send("six", next, 6); err != nil {
			return err
		}
		i, st, err := WaitAny(r1, r2)
		if err != nil || i != 1 || b != "six" || st.Tag != 6 {
			return fmt.Errorf("WaitAny: %d %+v %q %v", i, st, b, err)
		}
		// Only now may the previous rank send "five": r1 could not have
		// completed during WaitAny.
		prev := (c.Rank() + c.Size() - 1) % c.Size()
		if err := c.Send("go", prev, 7); err != nil {
			return err
		}
		var goMsg string
		if _, err := c.Recv(&goMsg, next, 7); err != nil {
			return err
		}
		c.Send("five", next, 5)
		_, err = r1.Wait()
		return expect(err == nil && a == "five", "r1: %q %v", a, err)
	}, WithEagerLimit(4096))
}

func TestSendrecvRingLargeMessagesDoNotDeadlock(t *testing.T) {
	runRanks(t, 5, func(c *Comm) error {
		out := make([]float64, 20000)
		out[0] = float64(c.Rank())
		var in []float64
		right, left := (c.Rank()+1)%c.Size(), (c.Rank()+c.Size()-1)%c.Size()
		st, err := c.Sendrecv(out, right, 0, &in, left, 0)
		if err != nil {
			return err
		}
		return expect(st.Source == left && in[0] == float64(left), "got %v from %d", in[0], st.Source)
	}, WithEagerLimit(1024))
}

func TestSelfMessages(t *testing.T) {
	runRanks(t, 1, func(c *Comm) error {
		if err := c.Send([]float64{1, 2, 3}, 0, 0); err != nil {
			return err
		}
		var v []float64
		if _, err := c.Recv(&v, 0, 0); err != nil || len(v) != 3 {
			return fmt.Errorf("self: %v %v", v, err)
		}
		req := c.Irecv(&v, 0, 1)
		if err := c.Ssend([]float64{9}, 0, 1); err != nil {
			return err
		}
		_, err := req.Wait()
		return expect(err == nil && v[0] == 9, "self Ssend: %v %v", v, err)
	})
}

func TestContextCancelsReceiveWithoutLosingMessages(t *testing.T) {
	runRanks(t, 2, func(c *Comm) error {
		if c.Rank() == 1 {
			var s string
			if _, err := c.Recv(&s, 0, 9); err != nil { // wait until rank 0 gave up
				return err
			}
			return c.Send("late", 0, 1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var s string
		_, err := c.WithContext(ctx).Recv(&s, 1, 1)
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("got %v, want DeadlineExceeded", err)
		}
		c.Send("go", 1, 9)
		_, err = c.Recv(&s, 1, 1)
		return expect(err == nil && s == "late", "after cancel: %q %v", s, err)
	})
}

func TestPeerLostAndFinished(t *testing.T) {
	t.Run("crash", func(t *testing.T) {
		net := comm.NewNetwork(2)
		w0, _ := Init(WithTransport(net.Transport(0)))
		w1, _ := Init(WithTransport(net.Transport(1)))
		defer w0.Finalize()
		defer w1.Finalize()
		w1.Send("before", 0, 0)
		go func() { time.Sleep(50 * time.Millisecond); net.Crash(1) }()
		var s string
		if _, err := w0.Recv(&s, 1, 0); err != nil || s != "before" {
			t.Fatalf("message sent before the crash: %q %v", s, err)
		}
		_, err := w0.Recv(&s, 1, 0)
		if !errors.Is(err, ErrPeerLost) || !errors.Is(err, comm.ErrPeerLost) {
			t.Fatalf("recv from crashed peer: %v", err)
		}
		if err := w0.Send("x", 1, 0); !errors.Is(err, ErrPeerLost) {
			t.Fatalf("send to crashed peer: %v", err)
		}
		if _, err := w0.Recv(&s, AnySource, 0); !errors.Is(err, ErrPeerLost) {
			t.Fatalf("AnySource with every peer gone: %v", err)
		}
	})
	t.Run("finished", func(t *testing.T) {
		runRanks(t, 2, func(c *Comm) error {
			if c.Rank() == 1 {
				return c.Send(5, 0, 0) // then Finalize
			}
			var v int
			if _, err := c.Recv(&v, 1, 0); err != nil || v != 5 {
				return fmt.Errorf("message before Finalize: %d %v", v, err)
			}
			_, err := c.Recv(&v, 1, 0)
			if !errors.Is(err, ErrPeerLost) || !errors.Is(err, comm.ErrPeerFinished) {
				return fmt.Errorf("recv from finished peer: %v", err)
			}
			return nil
		})
	})
}

func TestCallsAfterFinalize(t *testing.T) {
	net := comm.NewNetwork(1)
	w, err := Init(WithTransport(net.Transport(0)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Finalize(); err != nil {
		t.Fatal(err)
	}
	if err := w.Send(1, 0, 0); !errors.Is(err, ErrFinalized) {
		t.Fatalf("Send after Finalize: %v", err)
	}
	if _, err := w.Recv(new(int), 0, 0); !errors.Is(err, ErrFinalized) {
		t.Fatalf("Recv after Finalize: %v", err)
	}
	collectiveCalls := map[string]func() error{
		"Bcast":     func() error { _, err := Bcast(w, 1, 0); return err },
		"BcastInto": func() error { return BcastInto(w, []int{1}, 0) },
		"Barrier":   w.Barrier,
	}
	for name, call := range collectiveCalls {
		err := call()
		if !errors.Is(err, ErrFinalized) {
			t.Fatalf("%s after Finalize: %v", name, err)
		}
		if want := "mpi: rank 0 " + name + ": called after Finalize"; err.Error() != want {
			t.Errorf("%s after Finalize says %q, want %q", name, err, want)
		}
	}
	if err := w.Finalize(); err != nil {
		t.Fatalf("second Finalize: %v", err)
	}
}

func TestFinalizeFailsPendingReceive(t *testing.T) {
	net := comm.NewNetwork(2)
	w0, _ := Init(WithTransport(net.Transport(0)))
	w1, _ := Init(WithTransport(net.Transport(1)))
	defer w1.Finalize()
	req := w0.Irecv(new(int), 1, 0)
	w0.Finalize()
	if _, err := req.Wait(); !errors.Is(err, ErrFinalized) {
		t.Fatalf("pending receive after Finalize: %v", err)
	}
}

func TestSizeOneWorldWithoutLauncher(t *testing.T) {
	t.Setenv("GORUN_RANK", "")
	world, err := startWorld(nil, 0, 1, nil, config{eagerLimit: DefaultEagerLimit})
	if err != nil {
		t.Fatal(err)
	}
	if world.Rank() != 0 || world.Size() != 1 {
		t.Fatalf("rank %d size %d", world.Rank(), world.Size())
	}
	if err := world.Send("me", 0, 0); err != nil {
		t.Fatal(err)
	}
	var s string
	if _, err := world.Recv(&s, 0, 0); err != nil || s != "me" {
		t.Fatalf("%q %v", s, err)
	}
}
