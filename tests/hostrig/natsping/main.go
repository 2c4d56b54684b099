// Command natsping is raw nats.go request/reply, the baseline for gorun's
// ranks across hosts: "-mode echo" answers every request on -subject with
// its own payload; "-mode ping" sends requests of each size in -sizes and
// prints the one-way time (half the round trip) as bench/pingpong does:
// median, p99 and mean, and the bandwidth at the median.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	url := flag.String("url", nats.DefaultURL, "NATS server URL")
	mode := flag.String("mode", "ping", "echo or ping")
	subject := flag.String("subject", "natsping", "subject")
	sizes := flag.String("sizes", "8,1048576", "comma-separated payload sizes")
	iters := flag.Int("iters", 2000, "round trips per size (at most 256 MiB of payload)")
	flag.Parse()
	nc, err := nats.Connect(*url)
	if err != nil {
		fail(err)
	}
	defer nc.Close()
	if *mode == "echo" {
		if _, err := nc.Subscribe(*subject, func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
			fail(err)
		}
		if err := nc.Flush(); err != nil {
			fail(err)
		}
		fmt.Println("ready")
		select {}
	}
	fmt.Printf("# raw nats.go request/reply\n%-10s %12s %12s %12s %12s\n", "bytes", "median_us", "p99_us", "mean_us", "MB/s")
	for _, s := range strings.Split(*sizes, ",") {
		size, err := strconv.Atoi(s)
		if err != nil {
			fail(err)
		}
		n := max(20, min(*iters, (256<<20)/max(size, 1)))
		msg := make([]byte, size)
		var samples []time.Duration
		var total time.Duration
		for i := 0; i < n+n/10+2; i++ {
			start := time.Now()
			if _, err := nc.Request(*subject, msg, 10*time.Second); err != nil {
				fail(err)
			}
			if i >= n/10+2 {
				d := time.Since(start) / 2
				samples = append(samples, d)
				total += d
			}
		}
		slices.Sort(samples)
		med, p99 := samples[len(samples)/2], samples[len(samples)*99/100]
		mean := total / time.Duration(len(samples))
		fmt.Printf("%-10d %12.2f %12.2f %12.2f %12.1f\n", size, us(med), us(p99), us(mean), float64(size)/med.Seconds()/1e6)
	}
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "natsping:", err)
	os.Exit(1)
}
