// Command natsbench measures gorun's NATS transport against raw nats.go on
// the same server, in one run: 8-byte one-way latency (raw: request/reply
// round trip / 2), streaming bandwidth with 64 KiB messages (raw: publish
// to subscribe) and 1 MiB ping-pong bandwidth (raw: request/reply of 1 MiB,
// the reply echoing it; size over half the round trip). Rounds alternate raw and gorun so that machine
// noise hits both alike; it prints each round, the medians and the ratios.
//
//	go -C bench run ./natsbench                  # embedded server (NATS's default max_payload, 1 MiB)
//	go -C bench run ./natsbench -max-payload 8388608  # as gorun's own servers: 1 MiB goes eagerly
//	go -C bench run ./natsbench -url nats://...  # an external server
//	go -C bench run ./natsbench -json            # for bench/compare
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/natsserver"
	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	url := flag.String("url", "", "NATS server URL (default: an embedded server)")
	maxPayload := flag.Int("max-payload", 0, "the embedded server's max_payload in `bytes` (0: NATS's default, 1 MiB; gorun's own servers: 8388608)")
	rounds := flag.Int("rounds", 5, "measurement rounds")
	pings := flag.Int("pings", 5000, "round trips per latency round")
	msgs := flag.Int("msgs", 2000, "64 KiB messages per bandwidth round")
	bigPings := flag.Int("bigpings", 200, "1 MiB round trips per ping-pong round")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this `file`")
	asJSON := flag.Bool("json", false, "print the rounds and medians as one JSON object (see report) instead of a table")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "natsbench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*url, *maxPayload, *rounds, *pings, *msgs, *bigPings, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "natsbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(url string, maxPayload, rounds, pings, msgs, bigPings int, asJSON bool) error {
	if url == "" {
		user := natsserver.NewUser("")
		srv, err := natsserver.Start(natsserver.Config{Users: []natsserver.User{user}, MaxPayload: int32(maxPayload)})
		if err != nil {
			return err
		}
		defer srv.Shutdown()
		url = srv.URL(user)
	}
	worlds, err := gorunPair(url)
	if err != nil {
		return err
	}
	defer func() {
		var wg sync.WaitGroup
		for _, w := range worlds {
			wg.Add(1)
			go func() { defer wg.Done(); w.Finalize() }()
		}
		wg.Wait()
	}()
	var all []round
	if !asJSON {
		fmt.Printf("%-6s %14s %14s %14s %14s %14s %14s %14s %14s\n", "round", "raw_lat_us", "gorun_lat_us", "raw_MB/s", "gorun_MB/s",
			"raw_1MiB_MB/s", "gorun_1MiB_MB/s", "raw_1MiB_cpu", "gorun_1MiB_cpu")
	}
	for r := range rounds {
		var x round
		steps := []func() error{
			func() (err error) { x.RawLatency, err = rawLatency(url, pings); return err },
			func() (err error) { x.GorunLatency, err = gorunLatency(worlds, pings); return err },
			func() (err error) { x.RawStream, err = rawBandwidth(url, msgs); return err },
			func() (err error) { x.GorunStream, err = gorunBandwidth(worlds, msgs); return err },
			func() (err error) {
				x.RawPingPong, x.RawPingPongCPU, err = rawPingPong(url, pingSize, bigPings)
				return err
			},
			func() (err error) {
				x.GorunPingPong, x.GorunPingPongCPU, err = gorunPingPong(worlds, pingSize, bigPings)
				return err
			},
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		all = append(all, x)
		if !asJSON {
			fmt.Printf("%-6d %14.2f %14.2f %14.0f %14.0f %14.0f %14.0f %14.0f %14.0f\n", r+1,
				x.RawLatency, x.GorunLatency, x.RawStream, x.GorunStream, x.RawPingPong, x.GorunPingPong, x.RawPingPongCPU, x.GorunPingPongCPU)
		}
	}
	med := medians(all)
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(report{Rounds: all, Median: med})
	}
	fmt.Printf("median 8 B one-way latency: raw nats.go request/reply/2 %.2f us, gorun %.2f us, ratio %.2f (target <= 1.2)\n",
		med.RawLatency, med.GorunLatency, med.GorunLatency/med.RawLatency)
	fmt.Printf("median 64 KiB streaming: raw nats.go pub/sub %.0f MB/s, gorun %.0f MB/s, ratio %.2f (target >= 0.8)\n",
		med.RawStream, med.GorunStream, med.GorunStream/med.RawStream)
	fmt.Printf("median 1 MiB ping-pong: raw nats.go request/reply %.0f MB/s, gorun %.0f MB/s, ratio %.2f (target >= 0.8)\n",
		med.RawPingPong, med.GorunPingPong, med.GorunPingPong/med.RawPingPong)
	fmt.Printf("median CPU time per 1 MiB round trip (both ends and the server): raw nats.go %.0f us, gorun %.0f us, ratio %.2f\n",
		med.RawPingPongCPU, med.GorunPingPongCPU, med.GorunPingPongCPU/med.RawPingPongCPU)
	return nil
}

// rawLatency: request/reply round trips of 8 bytes; returns half the mean
// round trip in microseconds.
func rawLatency(url string, n int) (float64, error) {
	server, client, err := connPair(url)
	if err != nil {
		return 0, err
	}
	defer server.Close()
	defer client.Close()
	if _, err := server.Subscribe("bench.echo", func(m *nats.Msg) { m.Respond(m.Data) }); err != nil {
		return 0, err
	}
	server.Flush()
	msg := make([]byte, 8)
	for range n / 10 { // warm up
		if _, err := client.Request("bench.echo", msg, 10*time.Second); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	for range n {
		if _, err := client.Request("bench.echo", msg, 10*time.Second); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Microseconds()) / float64(n) / 2, nil
}

// rawBandwidth: n messages of 64 KiB published to a subscriber without
// pending limits; MB/s from the first publish to the last delivery.
func rawBandwidth(url string, n int) (float64, error) {
	sub, pub, err := connPair(url)
	if err != nil {
		return 0, err
	}
	defer sub.Close()
	defer pub.Close()
	done := make(chan struct{})
	count := 0
	s, err := sub.Subscribe("bench.stream", func(*nats.Msg) {
		count++
		if count == n {
			close(done)
		}
	})
	if err != nil {
		return 0, err
	}
	s.SetPendingLimits(-1, -1)
	sub.Flush()
	msg := make([]byte, 64<<10)
	start := time.Now()
	for range n {
		if err := pub.Publish("bench.stream", msg); err != nil {
			return 0, err
		}
	}
	pub.Flush()
	select {
	case <-done:
	case <-time.After(time.Minute):
		return 0, errors.New("raw stream: messages lost")
	}
	return float64(n) * float64(64<<10) / time.Since(start).Seconds() / 1e6, nil
}

func connPair(url string) (*nats.Conn, *nats.Conn, error) {
	a, err := nats.Connect(url)
	if err != nil {
		return nil, nil, err
	}
	b, err := nats.Connect(url)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, b, nil
}

// gorunPair makes two mpi worlds of one job over the NATS transport.
func gorunPair(url string) ([2]*mpi.Comm, error) {
	var worlds [2]*mpi.Comm
	var errs [2]error
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t, err := comm.NewNATS(comm.NATSConfig{Rank: r, Size: 2, JobID: "natsbench", Secret: "bench", URL: url})
			if err != nil {
				errs[r] = err
				return
			}
			worlds[r], errs[r] = mpi.Init(mpi.WithTransport(t))
		}()
	}
	wg.Wait()
	return worlds, errors.Join(errs[:]...)
}

// gorunLatency: mpi Send/Recv ping-pong of 8 bytes; half the mean round
// trip in microseconds.
func gorunLatency(w [2]*mpi.Comm, n int) (float64, error) {
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 8)
		for range n + n/10 {
			if _, err := w[1].Recv(&buf, 0, 1); err != nil {
				errc <- err
				return
			}
			if err := w[1].Send(buf, 0, 1); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	buf := make([]byte, 8)
	var start time.Time
	for i := range n + n/10 {
		if i == n/10 {
			start = time.Now()
		}
		if err := w[0].Send(buf, 1, 1); err != nil {
			return 0, err
		}
		if _, err := w[0].Recv(&buf, 1, 1); err != nil {
			return 0, err
		}
	}
	elapsed := time.Since(start)
	if err := <-errc; err != nil {
		return 0, err
	}
	return float64(elapsed.Microseconds()) / float64(n) / 2, nil
}

// gorunBandwidth: n messages of 64 KiB sent with Isend in windows of 64
// (as osu_bw does) and received in order; MB/s until the receiver's
// acknowledgement.
func gorunBandwidth(w [2]*mpi.Comm, n int) (float64, error) {
	const window = 64
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for range n {
			if _, err := w[1].Recv(&buf, 0, 2); err != nil {
				errc <- err
				return
			}
		}
		errc <- w[1].Send(true, 0, 3)
	}()
	msg := make([]byte, 64<<10)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := w[0].WithContext(ctx)
	for sent := 0; sent < n; {
		var reqs []*mpi.Request
		for ; len(reqs) < window && sent < n; sent++ {
			reqs = append(reqs, c.Isend(msg, 1, 2))
		}
		if err := mpi.WaitAll(reqs...); err != nil {
			return 0, err
		}
	}
	var ack bool
	if _, err := c.Recv(&ack, 1, 3); err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	if err := <-errc; err != nil {
		return 0, err
	}
	return float64(n) * float64(64<<10) / elapsed.Seconds() / 1e6, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
