package comm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
)

// chanHandler forwards frames to a channel.
type chanHandler chan comm.Frame

func (c chanHandler) Deliver(f comm.Frame) { c <- f }
func (c chanHandler) PeerGone(int, error)  {}
func (c chanHandler) recv(p comm.Poller) comm.Frame {
	start := time.Now()
	for i := 0; ; i++ {
		select {
		case f := <-c:
			return f
		default:
		}
		if p.Poll() {
			continue
		}
		if i%16 == 0 && time.Since(start) > 50*time.Microsecond {
			return <-c
		}
	}
}

// BenchmarkUnixPingPong measures a round trip between two Unix transports
// in one process, receivers polling briefly before they block, as the mpi
// layer does. ns/op is one round trip.
func BenchmarkUnixPingPong(b *testing.B) {
	for _, size := range []int{8, 64 << 10, 1 << 20, 16 << 20} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			us, _ := unixJob(b, 2, nil)
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
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := us[0].Send(ctx, 1, h, msg); err != nil {
					b.Fatal(err)
				}
				hs[0].recv(us[0])
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
