// Command compare runs, in one go, gorun and the peers that are installed
// (Open MPI with its default transport and with --mca btl tcp,self;
// mpi4py's buffer API under Open MPI) on the same work, and writes
// BENCHMARKS.md at the repository's root with SVG plots under bench/plots:
//
//   - ping-pong from 8 B to 16 MiB (bench/ops -kind pingpong and its twins);
//   - barrier, allreduce, bcast, gather and alltoall at 8 B, 8 KiB, 1 MiB
//     and 8 MiB at np 2 and 4, and at np 8 up to 1 MiB (bench/ops -kind
//     coll and its twins);
//   - Init+Finalize, the whole job at np 4 (bench/initfinalize and twins);
//   - the haversine workload at np 4 (examples/haversine's static split,
//     bench/haversine's C and Python twins);
//   - gorun's NATS transport against raw nats.go through one server on
//     loopback (bench/natsbench: 8 B latency, 64 KiB streaming, 1 MiB
//     ping-pong; nats.go).
//
// Runs alternate: each round runs every implementation on the same piece
// of work, seconds apart (gorun first in odd rounds, last in even ones),
// and a ratio is the median over the rounds of gorun's figure divided by
// the peer's from the same round. The full run then runs six rounds more
// of the small messages alone (ping-pong 8 B-64 KiB, the collectives at
// 8 B at np 2 and 4), whose calls the host's changes of speed move most.
//
//	cd bench && go run ./compare          # full: about 20 minutes on 2 cores
//	cd bench && go run ./compare -quick   # checks the tool: under 2 minutes
//
// A peer that is not installed is skipped with a line saying so. -quick
// writes into a new temporary directory unless -out names one.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func main() {
	quick := flag.Bool("quick", false, "few sizes, few calls, two rounds: checks the tool in under 2 minutes")
	out := flag.String("out", "", "directory for BENCHMARKS.md and plots/ (default: the repository's root and bench/plots; a temporary directory with -quick)")
	rounds := flag.Int("rounds", 0, "alternating rounds (default 3, 2 with -quick)")
	python := flag.String("python", "/usr/bin/python3", "the Python that has mpi4py and numpy")
	flag.Parse()
	if err := run(*quick, *out, *rounds, *python); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func run(quick bool, out string, rounds int, python string) error {
	benchDir, err := findBenchDir()
	if err != nil {
		return err
	}
	cfg := fullConfig()
	if quick {
		cfg = quickConfig()
	}
	if rounds > 0 {
		cfg.rounds = rounds
	}
	markdownPath, plotDir := filepath.Join(benchDir, "..", "BENCHMARKS.md"), filepath.Join(benchDir, "plots")
	if out == "" && quick {
		if out, err = os.MkdirTemp("", "gorun-bench-"); err != nil {
			return err
		}
	}
	if out != "" {
		markdownPath, plotDir = filepath.Join(out, "BENCHMARKS.md"), filepath.Join(out, "plots")
	}

	work, err := os.MkdirTemp("", "gorun-bench-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	env := describeMachine(benchDir, python)
	impls, skipped, err := buildAll(benchDir, work, python)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Println("skipped:", s)
	}

	started := time.Now()
	res := newResults()
	if err := measureAll(cfg, impls, res); err != nil {
		return err
	}
	natsRes := measureNATS(cfg, benchDir, work)
	env.loadAfter = loadAverage()
	env.hostAfter = probeHost()
	env.elapsed = time.Since(started)

	if err := os.MkdirAll(plotDir, 0o755); err != nil {
		return err
	}
	plots, err := drawPlots(cfg, impls, res, plotDir)
	if err != nil {
		return err
	}
	doc := markdown(cfg, impls, skipped, res, env, plots, plotDir, filepath.Dir(markdownPath), work, benchDir) +
		natsMarkdown(natsRes, work, benchDir)
	if err := os.WriteFile(markdownPath, []byte(doc), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %d plots in %s (%s of measurements)\n", markdownPath, len(plots), plotDir, env.elapsed.Round(time.Second))
	return nil
}

// findBenchDir returns the bench module's directory: the current directory
// or its bench subdirectory.
func findBenchDir() (string, error) {
	for _, dir := range []string{".", "bench"} {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && len(data) > 0 && containsModule(string(data)) {
			return filepath.Abs(dir)
		}
	}
	return "", fmt.Errorf("run me from the repository's root or its bench directory (no go.mod of module %s here or in ./bench)", benchModule)
}
