package main

import (
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gorun-mpi/gorun/mpi"
)

// pingSize is the message of the large ping-pong: 1 MiB, as issue 16's
// bandwidth figure between hosts.
const pingSize = 1 << 20

// rawPingPong: request/reply round trips of size bytes through the server,
// the reply echoing the request; returns the one-way bandwidth in MB/s
// (size over half the mean round trip) and the process's CPU time per
// round trip in microseconds (both ends and the embedded server, if any).
func rawPingPong(url string, size, n int) (float64, float64, error) {
	server, client, err := connPair(url)
	if err != nil {
		return 0, 0, err
	}
	defer server.Close()
	defer client.Close()
	if _, err := server.Subscribe("bench.echo.large", func(m *nats.Msg) { m.Respond(m.Data) }); err != nil {
		return 0, 0, err
	}
	if err := server.Flush(); err != nil {
		return 0, 0, err
	}
	msg := make([]byte, size)
	var start time.Time
	var cpu0 time.Duration
	for i := range n + n/10 + 1 {
		if i == n/10+1 {
			start, cpu0 = time.Now(), cpuTime()
		}
		if _, err := client.Request("bench.echo.large", msg, 10*time.Second); err != nil {
			return 0, 0, err
		}
	}
	return megabytesPerSecond(size, n, time.Since(start)), perRoundTrip(cpuTime()-cpu0, n), nil
}

// gorunPingPong: mpi Send/Recv ping-pong of size bytes between the two
// worlds, each receiving into its own buffer (reused, as an MPI program
// does); returns the one-way bandwidth in MB/s and the CPU time per round
// trip in microseconds.
func gorunPingPong(w [2]*mpi.Comm, size, n int) (float64, float64, error) {
	const tag = 4
	rounds := n + n/10 + 1
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, size)
		for range rounds {
			if _, err := w[1].Recv(&buf, 0, tag); err != nil {
				errc <- err
				return
			}
			if err := w[1].Send(buf, 0, tag); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	buf := make([]byte, size)
	var start time.Time
	var cpu0 time.Duration
	for i := range rounds {
		if i == n/10+1 {
			start, cpu0 = time.Now(), cpuTime()
		}
		if err := w[0].Send(buf, 1, tag); err != nil {
			return 0, 0, err
		}
		if _, err := w[0].Recv(&buf, 1, tag); err != nil {
			return 0, 0, err
		}
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	if err := <-errc; err != nil {
		return 0, 0, err
	}
	return megabytesPerSecond(size, n, elapsed), perRoundTrip(cpu, n), nil
}

// cpuTime is the CPU time (user and system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perRoundTrip is cpu over n round trips, in microseconds.
func perRoundTrip(cpu time.Duration, n int) float64 {
	return float64(cpu.Microseconds()) / float64(n)
}

// megabytesPerSecond is size bytes over half the mean of n round trips
// that took elapsed in all.
func megabytesPerSecond(size, n int, elapsed time.Duration) float64 {
	oneWay := elapsed.Seconds() / float64(n) / 2
	return float64(size) / oneWay / 1e6
}
