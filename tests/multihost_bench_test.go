package tests

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/gorunner"
	"github.com/gorun-mpi/gorun/tests/hostrig"
)

// BenchmarkMultihostLaunch measures a whole job of 8 ranks on two agents
// (4 each) with a warm program cache: from starting gorun on the launcher
// host to its exit (discovery, reservation, launch, Init, Finalize, the
// job's end). It reports the mean and logs p50 and p99.
//
//	go test -run '^$' -bench BenchmarkMultihostLaunch -benchtime 20x ./tests
func BenchmarkMultihostLaunch(b *testing.B) {
	r := newHostsRig(b, map[string]int{"a": 4, "b": 4})
	args := []string{"-np", "8", "--nats", r.URL(), "--hosts", "a:4,b:4", bin("behave"), "-mode", "hello"}
	if _, stderr, code := r.launch(b, args...); code != 0 { // warms the agents' caches
		b.Fatalf("status %d:\n%s", code, stderr)
	}
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		stdout, stderr, code := r.launch(b, args...)
		took = append(took, time.Since(start))
		if code != 0 || strings.Count(stdout, "hello from") != 8 {
			b.Fatalf("status %d:\n%s\n%s", code, stdout, stderr)
		}
	}
	b.StopTimer()
	var sum time.Duration
	for _, d := range took {
		sum += d
	}
	slices.Sort(took)
	mean := sum / time.Duration(len(took))
	b.ReportMetric(float64(mean.Microseconds())/1e3, "ms/launch")
	b.Logf("np=8 on 2 agents, warm cache, %d launches: mean %v, p50 %v, p99 %v", len(took),
		mean.Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)*99/100].Round(time.Millisecond))
}

// BenchmarkMultihostPingPong runs bench/pingpong with its two ranks on two
// hosts, then raw nats.go request/reply between the same two hosts through
// the same server (tests/hostrig/natsping), and logs both tables; with
// -benchtime Nx it alternates the two N times. It does so under a server
// with NATS's default max_payload (1 MiB, as an external server: a 1 MiB
// message goes by rendezvous) and under one with gorun's own servers'
// 8 MiB (comm.DefaultNATSMaxPayload: it goes eagerly).
//
//	go test -run '^$' -bench BenchmarkMultihostPingPong -benchtime 1x ./tests
func BenchmarkMultihostPingPong(b *testing.B) {
	natsping := rigTool(b, "natsping", "./hostrig/natsping")
	dir := b.TempDir()
	build := gorunner.BuildCommand("-o", dir, ".")
	build.Dir = "../bench/pingpong" // a module of its own
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building pingpong: %v\n%s", err, out)
	}
	onTwoHostsUnderEachLimit(b, func(b *testing.B, r *hostsRig) {
		for range b.N {
			stdout, stderr, code := r.launch(b, "-np", "2", "--nats", r.URL(), "--hosts", "a:1,b:1", filepath.Join(dir, "pingpong"),
				"-min", "8", "-max", "1048576")
			if code != 0 {
				b.Fatalf("pingpong: status %d:\n%s", code, stderr)
			}
			b.Logf("gorun ranks on hosts a and b:\n%s", stdout)
			echo := r.Start(b, "b", nil, natsping, "-url", r.URL(), "-mode", "echo")
			if !echo.WaitFor("ready", 10*time.Second) {
				b.Fatalf("natsping echo: %s", echo.Output())
			}
			out, code := r.Run(b, "a", waitLimit, natsping, "-url", r.URL(), "-sizes", "8,1024,65536,1048576")
			echo.Kill()
			if code != 0 {
				b.Fatalf("natsping: status %d:\n%s", code, out)
			}
			b.Logf("raw nats.go between hosts a and b:\n%s", out)
		}
	})
}

// BenchmarkMultihostNATSvsRaw runs tests/hostrig/natsvs as two ranks on
// two hosts: rank 0 alternates blocks of gorun round trips with blocks of
// raw nats.go request/reply round trips to the same rank 1 through the
// same server, so that the machine's other load weighs on both alike, and
// logs the medians and their ratio for 8 B and 1 MiB; under a server with
// NATS's default max_payload and under one with gorun's own servers' 8 MiB.
//
//	go test -run '^$' -bench BenchmarkMultihostNATSvsRaw -benchtime 1x ./tests
func BenchmarkMultihostNATSvsRaw(b *testing.B) {
	natsvs := rigTool(b, "natsvs", "./hostrig/natsvs")
	onTwoHostsUnderEachLimit(b, func(b *testing.B, r *hostsRig) {
		for range b.N {
			stdout, stderr, code := r.launch(b, "-np", "2", "--nats", r.URL(), "--hosts", "a:1,b:1", natsvs, "-sizes", "8,1048576")
			if code != 0 {
				b.Fatalf("natsvs: status %d:\n%s", code, stderr)
			}
			b.Logf("ranks on hosts a and b:\n%s", stdout)
		}
	})
}

// BenchmarkMultihostHaversine runs examples/haversine (8,000,000 requests)
// on 2 hosts x 2 ranks and on 1 host x 2 ranks through the agents, and
// logs the seconds each run reports.
//
//	go test -run '^$' -bench BenchmarkMultihostHaversine -benchtime 1x ./tests
func BenchmarkMultihostHaversine(b *testing.B) {
	r := newHostsRig(b, map[string]int{"a": 2, "b": 2})
	for range b.N {
		for _, hosts := range []string{"a:2,b:2", "a:2"} {
			np := "4"
			if hosts == "a:2" {
				np = "2"
			}
			stdout, stderr, code := r.launch(b, "-np", np, "--nats", r.URL(), "--hosts", hosts, "../examples/haversine", "-n", "8000000")
			if code != 0 {
				b.Fatalf("haversine on %s: status %d:\n%s", hosts, code, stderr)
			}
			for _, l := range lines(stdout) {
				if strings.HasPrefix(l, "total_km=") {
					b.Logf("--hosts %s: %s", hosts, l)
				}
			}
		}
	}
}

// BenchmarkMultihostAllreduceBytes counts the bytes that cross the NATS
// server per 8 MiB AllreduceSlice at 2 hosts x 2 ranks: bench/collbench
// makes 12 such calls (2 warm-up, 10 timed) and 500 barriers; the count
// is taken with a warm program cache (nothing shipped).
//
//	go test -run '^$' -bench BenchmarkMultihostAllreduceBytes -benchtime 1x ./tests
func BenchmarkMultihostAllreduceBytes(b *testing.B) {
	r := newHostsRig(b, map[string]int{"a": 2, "b": 2})
	dir := b.TempDir()
	build := gorunner.BuildCommand("-o", dir, ".")
	build.Dir = "../bench/collbench" // a module of its own
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building collbench: %v\n%s", err, out)
	}
	args := []string{"-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", filepath.Join(dir, "collbench"),
		"-ops", "allreduce", "-sizes", "8388608", "-iters", "100"}
	if _, stderr, code := r.launch(b, args...); code != 0 { // warms the caches
		b.Fatalf("collbench: status %d:\n%s", code, stderr)
	}
	for range b.N {
		_, before := hostrig.NATSStats(b, r.nats)
		stdout, stderr, code := r.launch(b, args...)
		if code != 0 {
			b.Fatalf("collbench: status %d:\n%s", code, stderr)
		}
		_, after := hostrig.NATSStats(b, r.nats)
		per := float64(after-before) / 12
		b.ReportMetric(per/(8<<20), "x8MiB/allreduce")
		b.Logf("%d bytes through the NATS server: %.2f x 8 MiB per AllreduceSlice\n%s", after-before, per/(8<<20), stdout)
	}
}

// onTwoHostsUnderEachLimit runs run as a sub-benchmark on a rig of hosts a
// and b, each with an agent of one slot, under a NATS server with NATS's
// default max_payload and under one with gorun's own servers' 8 MiB.
func onTwoHostsUnderEachLimit(b *testing.B, run func(b *testing.B, r *hostsRig)) {
	for _, server := range []struct {
		name  string
		flags []string
	}{
		{"max_payload=1MiB", nil},
		{"max_payload=8MiB", []string{"-max-payload", strconv.Itoa(comm.DefaultNATSMaxPayload)}},
	} {
		b.Run(server.name, func(b *testing.B) {
			r := newBareRigWith(b, server.flags, "a", "b")
			r.startAgent(b, "a", 1)
			r.startAgent(b, "b", 1)
			run(b, r)
		})
	}
}
