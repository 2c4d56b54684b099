package comm_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
)

// chanHandler forwards frames to a channel.
type chanHandler chan comm.Frame

func (c chanHandler) Deliver(f comm.Frame) { c <- f }
func (c chanHandler) PeerGone(int, error)  {}
func (c chanHandler) recv(p comm.Poller) comm.Frame {
	if f, ok := c.spin(p); ok {
		return f
	}
	return <-c
}

// spin polls for about 50us, between SpinStart and SpinEnd when p is a
// Spinner (SpinEnd must come before the caller sleeps).
func (c chanHandler) spin(p comm.Poller) (comm.Frame, bool) {
	if sp, ok := p.(comm.Spinner); ok {
		sp.SpinStart()
		defer sp.SpinEnd()
	}
	start := time.Now()
	for i := 0; ; i++ {
		select {
		case f := <-c:
			return f, true
		default:
		}
		if p.Poll() {
			continue
		}
		if i%16 == 0 && time.Since(start) > 50*time.Microsecond {
			return comm.Frame{}, false
		}
	}
}

// BenchmarkUnixPingPong measures a round trip between two Unix transports
// in one process, with their shared-memory rings and without, receivers
// polling briefly before they block, as the mpi layer does (SpinStart and
// SpinEnd around the polls). ns/op is the mean round trip; p50-ns and
// p99-ns its percentiles.
func BenchmarkUnixPingPong(b *testing.B) {
	for _, mode := range []struct {
		name  string
		tweak func(*comm.UnixConfig)
	}{{"rings", nil}, {"norings", func(c *comm.UnixConfig) { c.NoRings = true }}} {
		for _, size := range []int{8, 4 << 10, 64 << 10, 1 << 20, 16 << 20} {
			b.Run(fmt.Sprintf("%s/%d", mode.name, size), func(b *testing.B) {
				benchPingPong(b, size, mode.tweak)
			})
		}
	}
}

func benchPingPong(b *testing.B, size int, tweak func(*comm.UnixConfig)) {
	us, _ := unixJob(b, 2, tweak)
	hs := []chanHandler{make(chanHandler, 16), make(chanHandler, 16)}
	for r, u := range us {
		u.Start(hs[r])
		defer u.Close()
	}
	ctx := context.Background()
	msg := make([]byte, size)
	h := comm.Header{Kind: kindData}
	done := make(chan error)
	go func() {
		for i := 0; i < b.N; i++ {
			f := hs[1].recv(us[1])
			if err := us[1].Send(ctx, 0, h, f.Payload); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	b.SetBytes(int64(2 * size))
	times := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := us[0].Send(ctx, 1, h, msg); err != nil {
			b.Fatal(err)
		}
		hs[0].recv(us[0])
		times[i] = time.Since(start)
	}
	b.StopTimer()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
}

// countingHandler counts the frames delivered to it.
type countingHandler struct{ got atomic.Int64 }

func (h *countingHandler) Deliver(comm.Frame)  { h.got.Add(1) }
func (h *countingHandler) PeerGone(int, error) {}

// BenchmarkUnixRoundTripOneGoroutine measures the CPU a small frame costs
// the Unix transport, both ends, without a second core: one goroutine
// sends 8 bytes from rank 0 to rank 1, polls rank 1 until it has it,
// sends it back and polls rank 0. ns/op is one round trip (two frames),
// rings and cache misses on them included, no line moving between cores.
//
//	go test -run '^$' -bench RoundTripOneGoroutine -cpu 1 ./comm
func BenchmarkUnixRoundTripOneGoroutine(b *testing.B) {
	us, _ := unixJob(b, 2, nil)
	hs := []*countingHandler{{}, {}}
	for r, u := range us {
		u.Start(hs[r])
		defer u.Close()
	}
	ctx := context.Background()
	msg := make([]byte, 8)
	h := comm.Header{Kind: kindData}
	for _, u := range us {
		u.SpinStart() // as a receive that polls
		defer u.SpinEnd()
	}
	want := int64(0)
	roundTrip := func() {
		want++
		for _, hop := range [][2]int{{0, 1}, {1, 0}} {
			if err := us[hop[0]].Send(ctx, hop[1], h, msg); err != nil {
				b.Fatal(err)
			}
			for hs[hop[1]].got.Load() < want {
				us[hop[1]].Poll()
			}
		}
	}
	for range 1000 {
		roundTrip() // dial, map the rings, warm them
	}
	b.ResetTimer()
	for range b.N {
		roundTrip()
	}
}

// BenchmarkUnixPollIdle is one Poll of a spinning rank with one connected
// peer and nothing arriving: the length of a waiting receive's poll loop,
// half of which a message that arrives waits on average before it is seen.
func BenchmarkUnixPollIdle(b *testing.B) {
	us, _ := unixJob(b, 2, nil)
	hs := []*countingHandler{{}, {}}
	for r, u := range us {
		u.Start(hs[r])
		defer u.Close()
	}
	if err := us[1].Send(context.Background(), 0, comm.Header{Kind: kindData}, make([]byte, 8)); err != nil {
		b.Fatal(err)
	}
	for hs[0].got.Load() < 1 {
		us[0].Poll() // the connection and its ring are up
	}
	us[0].SpinStart()
	defer us[0].SpinEnd()
	b.ResetTimer()
	for range b.N {
		us[0].Poll()
	}
}
