package mpi

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/ranks"
	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// The ping-pong benchmarks run two ranks of one process over the real Unix
// transport (shared-memory rings, sockets for wake-ups) and time b.N round
// trips of a small message. One op is one round trip: two messages, each
// sent by one rank and received by the other, so allocs/op counts both
// ranks' allocations for two messages (the figure issue 17 wants at zero).
//
//	go test -run '^$' -bench PingPong -benchmem ./mpi

func BenchmarkPingPongBytes(b *testing.B) {
	for _, size := range []int{8, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			benchPingPong(b, func(c *Comm) (func() error, error) {
				msg := make([]byte, size)
				return func() error { return roundTrip(c, msg, &msg) }, nil
			})
		})
	}
}

func BenchmarkPingPongFloat64s(b *testing.B) {
	benchPingPong(b, func(c *Comm) (func() error, error) {
		msg := make([]float64, 1)
		return func() error { return roundTrip(c, msg, &msg) }, nil
	})
}

func BenchmarkPingPongInt(b *testing.B) {
	benchPingPong(b, func(c *Comm) (func() error, error) {
		var v int
		return func() error {
			var err error
			switch c.Rank() {
			case 0:
				if err = c.Send(v+1000, 1, 0); err == nil {
					_, err = c.Recv(&v, 1, 0)
				}
			case 1:
				if _, err = c.Recv(&v, 0, 0); err == nil {
					err = c.Send(v+1, 0, 0)
				}
			}
			return err
		}, nil
	})
}

func BenchmarkPingPongIsendIrecv(b *testing.B) {
	benchPingPong(b, func(c *Comm) (func() error, error) {
		msg := make([]byte, 8)
		peer := 1 - c.Rank()
		return func() error {
			if c.Rank() == 0 {
				if _, err := c.Isend(msg, peer, 0).Wait(); err != nil {
					return err
				}
				_, err := c.Irecv(&msg, peer, 0).Wait()
				return err
			}
			if _, err := c.Irecv(&msg, peer, 0).Wait(); err != nil {
				return err
			}
			_, err := c.Isend(msg, peer, 0).Wait()
			return err
		}, nil
	})
}

// roundTrip is one round trip of a blocking Send and Recv: rank 0 sends v
// and receives into ptr, rank 1 the other way round.
func roundTrip(c *Comm, v, ptr any) error {
	var err error
	switch c.Rank() {
	case 0:
		if err = c.Send(v, 1, 0); err == nil {
			_, err = c.Recv(ptr, 1, 0)
		}
	case 1:
		if _, err = c.Recv(ptr, 0, 0); err == nil {
			err = c.Send(v, 0, 0)
		}
	}
	return err
}

// benchPingPong runs the round trip setup makes on two ranks over Unix
// transports, b.N times after a warm-up, timing only the loop.
func benchPingPong(b *testing.B, setup func(c *Comm) (func() error, error)) {
	job, err := ranks.Start(ranks.Unix, 2)
	if err != nil {
		b.Fatal(err)
	}
	defer job.Close()
	var ready sync.WaitGroup
	ready.Add(2)
	start := make(chan struct{})
	n := b.N
	open := func(tr comm.Transport) (*Comm, error) { return Init(WithTransport(tr)) }
	errs := make(chan []error, 1)
	go func() {
		errs <- ranks.RunWorlds(job, ranks.Limits{Timeout: ranks.TimeoutFor(b, jobTimeout)}, open, func(r int, c *Comm) error {
			call, err := setup(c)
			if err != nil {
				ready.Done()
				return err
			}
			for range 1000 {
				if err := call(); err != nil {
					ready.Done()
					return err
				}
			}
			ready.Done()
			<-start
			for range n {
				if err := call(); err != nil {
					return err
				}
			}
			return nil
		})
	}()
	ready.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	close(start)
	result := <-errs
	b.StopTimer()
	for r, err := range result {
		if err != nil {
			b.Errorf("rank %d: %v", r, err)
		}
	}
}

// BenchmarkRoundTripOneGoroutine measures the CPU a small message costs
// package mpi and the Unix transport, both ends, without a second core:
// one goroutine drives two ranks, rank 0 Sends 8 bytes, rank 1 Recvs them
// (the message waits in the ring: the receive posts, polls once and
// matches it), sends them back, and rank 0 receives them. ns/op is one
// round trip (two messages); set beside BenchmarkUnixRoundTripOneGoroutine
// of package comm, it is what the layers above the transport cost.
//
//	go test -run '^$' -bench RoundTripOneGoroutine -cpu 1 ./mpi
func BenchmarkRoundTripOneGoroutine(b *testing.B) {
	cs := twoRanks(b)
	msg := make([]byte, 8)
	roundTrip := func() {
		for _, hop := range [][2]int{{0, 1}, {1, 0}} {
			if err := cs[hop[0]].Send(msg, hop[1], 0); err != nil {
				b.Fatal(err)
			}
			if _, err := cs[hop[1]].Recv(&msg, hop[0], 0); err != nil {
				b.Fatal(err)
			}
		}
	}
	for range 1000 {
		roundTrip()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		roundTrip()
	}
}

// BenchmarkBcastOneGoroutine measures the CPU a small Bcast through the
// world's shared memory costs both ranks, without a second core: one
// goroutine drives a root and the other rank of a two-rank world, each
// Bcast of the root followed by the other rank's (the root's value is in
// its header by then, so neither waits). ns/op is one call on each rank.
//
//	go test -run '^$' -bench BcastOneGoroutine -cpu 1 ./mpi
func BenchmarkBcastOneGoroutine(b *testing.B) {
	for _, kind := range []string{"Bcast", "BcastInto"} {
		b.Run(kind, func(b *testing.B) {
			cs := twoRanksSharingMemory(b)
			bufs := [][]float64{{1}, {0}}
			call := func(r int) {
				var err error
				if kind == "Bcast" {
					bufs[r], err = Bcast(cs[r], bufs[r], 0)
				} else {
					err = BcastInto(cs[r], bufs[r], 0)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			for range 1000 {
				call(0)
				call(1)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				call(0)
				call(1)
			}
		})
	}
}

// twoRanks is a two-rank world over Unix transports, finalized when b
// ends.
func twoRanks(b *testing.B) []*Comm {
	job, err := ranks.Start(ranks.Unix, 2)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { job.Close() })
	cs := make([]*Comm, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for r := range cs {
		wg.Go(func() { cs[r], errs[r] = Init(WithTransport(job.Transports[r])) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Go(func() { c.Finalize() })
		}
		wg.Wait()
	})
	return cs
}

// twoRanksSharingMemory is twoRanks whose collectives on the world go
// through shared memory, as a job's launched by gorun do.
func twoRanksSharingMemory(b *testing.B) []*Comm {
	cs := twoRanks(b)
	mem := alignedMemory(shmcoll.Size(2))
	for r, c := range cs {
		region, err := newRegion(c.e, mem, r, 2, nil)
		if err != nil {
			b.Fatal(err)
		}
		c.shared.world.arena = region
	}
	return cs
}
