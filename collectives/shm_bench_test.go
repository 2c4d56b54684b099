//go:build linux

package collectives

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/internal/shm"
	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// benchConn is a Conn with an arena and no messages (the benchmarks below
// only go through the arena) that numbers its calls (CallConn).
type benchConn struct {
	rank, size int
	region     *shmcoll.Region
	seq        uint32
}

var errBenchMessages = errors.New("benchConn sends no messages")

func (c *benchConn) Rank() int                     { return c.rank }
func (c *benchConn) Size() int                     { return c.size }
func (c *benchConn) SharedMemory() *shmcoll.Region { return c.region }
func (c *benchConn) Send([]byte, int, int) error   { return errBenchMessages }
func (c *benchConn) Recv(int, int) ([]byte, error) { return nil, errBenchMessages }
func (c *benchConn) Sendrecv([]byte, int, int, int, int) ([]byte, error) {
	return nil, errBenchMessages
}

// BeginCall numbers the calls, as package mpi's Conn does.
func (c *benchConn) BeginCall(s Signature) (Signature, error) {
	c.seq++
	s.Seq = c.seq
	return s, nil
}

func (c *benchConn) CheckCall() error { return nil }

// benchConns maps one arena for np ranks, each rank's view at its own
// address, as processes map it.
func benchConns(b *testing.B, np int) []*benchConn {
	b.Helper()
	size := shmcoll.HeaderBytes(np) + np*testSlotBytes + testResultBytes
	f, err := shm.Create("gorun-bench", int64(size))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	conns := make([]*benchConn, np)
	for r := range np {
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			b.Fatal(err)
		}
		m, err := shm.Map(os.NewFile(uintptr(fd), "arena"), size)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { m.Close() })
		region, err := shmcoll.NewSized(m.Bytes(), r, np, testSlotBytes, testResultBytes, shmcoll.Hooks{Spin: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		conns[r] = &benchConn{rank: r, size: np, region: region}
	}
	return conns
}

// BenchmarkShmBcastSmall: one goroutine plays both ranks of np=2 Bcasts of
// one float64, the root running 32 calls ahead, then the other rank
// catching up, so that no call waits: what the calls cost without the
// cache lines that move between cores. It reports ns per call of each.
func BenchmarkShmBcastSmall(b *testing.B) {
	for _, into := range []bool{false, true} {
		name := "Bcast"
		if into {
			name = "BcastInto"
		}
		b.Run(name, func(b *testing.B) {
			conns := benchConns(b, 2)
			v, buf := []float64{3}, []float64{0}
			call := func(c *benchConn) {
				if into {
					if err := BcastInto(c, viewFloat64s{}, buf, 0); err != nil {
						b.Fatal(err)
					}
					return
				}
				if _, err := Bcast(c, viewFloat64s{}, v, 0); err != nil {
					b.Fatal(err)
				}
			}
			const ahead = 32
			var rootTime, otherTime time.Duration
			b.ResetTimer()
			for done := 0; done < b.N; done += ahead {
				t0 := time.Now()
				for range ahead {
					call(conns[0])
				}
				t1 := time.Now()
				for range ahead {
					call(conns[1])
				}
				rootTime += t1.Sub(t0)
				otherTime += time.Since(t1)
			}
			calls := float64((b.N + ahead - 1) / ahead * ahead)
			b.ReportMetric(float64(rootTime.Nanoseconds())/calls, "ns/root")
			b.ReportMetric(float64(otherTime.Nanoseconds())/calls, "ns/other")
		})
	}
}
