package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The NATS transport's figures: bench/natsbench runs raw nats.go and
// gorun's NATS transport through one embedded server on loopback, round
// after round, and prints them as JSON (-json). They stand beside the
// other sections of BENCHMARKS.md; between hosts, see the netns rig's
// BenchmarkMultihostPingPong in tests/.

// natsRound is one round of bench/natsbench -json: latency in
// microseconds, bandwidth in MB/s.
type natsRound struct {
	RawLatency    float64 `json:"raw_latency_us"`
	GorunLatency  float64 `json:"gorun_latency_us"`
	RawStream     float64 `json:"raw_stream_mbps"`
	GorunStream   float64 `json:"gorun_stream_mbps"`
	RawPingPong   float64 `json:"raw_pingpong_1mib_mbps"`
	GorunPingPong float64 `json:"gorun_pingpong_1mib_mbps"`
}

// natsResult is what the NATS section shows: the rounds, the command that
// produced them, or why there are none.
type natsResult struct {
	rounds  []natsRound
	command []string
	failure string
}

// natsFlags are natsbench's flags for a run of cfg's kind.
func natsFlags(cfg config) []string {
	if cfg.name == "quick" {
		return []string{"-rounds", "2", "-pings", "500", "-msgs", "200", "-bigpings", "20", "-json"}
	}
	return []string{"-rounds", itoa(max(cfg.rounds, 5)), "-pings", "5000", "-msgs", "2000", "-bigpings", "200", "-json"}
}

// measureNATS builds bench/natsbench into work and runs it. A failure is
// returned in the result (the section says so), not as an error: the
// other figures stand without it.
func measureNATS(cfg config, benchDir, work string) natsResult {
	timeout, err := time.ParseDuration(cfg.perRunTimeout)
	if err != nil {
		return natsResult{failure: fmt.Sprintf("the run timeout %q: %v", cfg.perRunTimeout, err)}
	}
	bin := filepath.Join(work, "natsbench")
	build := exec.Command("go", "build", "-o", bin, "./natsbench")
	build.Dir = benchDir
	if out, err := build.CombinedOutput(); err != nil {
		return natsResult{failure: fmt.Sprintf("go build ./natsbench: %v: %s", err, tail(string(out), 600))}
	}
	argv := append([]string{bin}, natsFlags(cfg)...)
	fmt.Println("nats: raw nats.go against gorun's NATS transport")
	res := newResults()
	out, ok := runJob(res, "natsbench", timeout, argv)
	if !ok {
		return natsResult{command: argv, failure: strings.Join(res.failures, "; ")}
	}
	var report struct {
		Rounds []natsRound `json:"rounds"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil || len(report.Rounds) == 0 {
		return natsResult{command: argv, failure: fmt.Sprintf("reading natsbench's JSON: %v: %s", err, tail(out, 300))}
	}
	return natsResult{rounds: report.Rounds, command: argv}
}

// natsMarkdown is the NATS section of BENCHMARKS.md.
func natsMarkdown(r natsResult, work, benchDir string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## NATS transport, one host (loopback)\n\n")
	w("`bench/natsbench`: two ranks of one job in one process on gorun's NATS transport, against raw nats.go " +
		"between two connections, through one embedded server; rounds alternate raw and gorun. 8 B latency is one way " +
		"(raw: request/reply round trip / 2; gorun: Send/Recv ping-pong / 2); 64 KiB streaming is raw publish to a " +
		"subscriber against gorun Isend in windows of 64; 1 MiB ping-pong is raw request/reply echoing 1 MiB against " +
		"gorun Send/Recv of 1 MiB (each side passing the same buffer every time), size over half the round trip. Ratios are the median over the " +
		"rounds of gorun's figure over raw's from the same round (issue 16's targets: latency ≤ 1.2x, bandwidth ≥ 0.8x). " +
		"Between hosts, over the netns rig: `go test -run '^$' -bench BenchmarkMultihostPingPong -benchtime 1x -v ./tests`.\n\n")
	if len(r.command) > 0 {
		w("```\n%s\n```\n\n", shellLine(r.command, work, benchDir))
	}
	if r.failure != "" {
		w("Not measured: %s\n\n", r.failure)
		return b.String()
	}
	type figure struct {
		label, unit string
		raw, gorun  func(natsRound) float64
		target      string
	}
	figures := []figure{
		{"8 B latency, one way", "us", func(x natsRound) float64 { return x.RawLatency }, func(x natsRound) float64 { return x.GorunLatency }, "≤ 1.2x"},
		{"64 KiB streaming", "MB/s", func(x natsRound) float64 { return x.RawStream }, func(x natsRound) float64 { return x.GorunStream }, "≥ 0.8x"},
		{"1 MiB ping-pong", "MB/s", func(x natsRound) float64 { return x.RawPingPong }, func(x natsRound) float64 { return x.GorunPingPong }, "≥ 0.8x"},
	}
	w("| figure | raw nats.go | gorun | gorun ÷ raw | target | rounds (raw / gorun) |\n|---|---|---|---|---|---|\n")
	for _, f := range figures {
		var raws, goruns, ratios []float64
		var each []string
		for _, x := range r.rounds {
			raws, goruns = append(raws, f.raw(x)), append(goruns, f.gorun(x))
			if f.raw(x) > 0 {
				ratios = append(ratios, f.gorun(x)/f.raw(x))
			}
			each = append(each, fmt.Sprintf("%.3g / %.3g", f.raw(x), f.gorun(x)))
		}
		w("| %s | %.3g %s | %.3g %s | %.2fx | %s | %s |\n", f.label, medianOrZero(raws), f.unit, medianOrZero(goruns), f.unit,
			medianOrZero(ratios), f.target, strings.Join(each, ", "))
	}
	w("\n")
	return b.String()
}

// medianOrZero is median, 0 for no values.
func medianOrZero(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return median(xs)
}
