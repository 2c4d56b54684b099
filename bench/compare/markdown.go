package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// unitOf is the unit a benchmark's figures are in.
func unitOf(bench string) float64 {
	switch bench {
	case "initfinalize", launchBench:
		return 1e-3
	case "haversine":
		return 1
	}
	return 1e-6
}

// duration writes v (in unit seconds) with a readable unit.
func duration(v, unit float64) string {
	s := v * unit
	switch {
	case s >= 1:
		return fmt.Sprintf("%.3f s", s)
	case s >= 1e-3:
		return fmt.Sprintf("%.3g ms", s*1e3)
	}
	return fmt.Sprintf("%.3g us", s*1e6)
}

// summaryRow is a line of the summary table.
type summaryRow struct {
	label string
	k     key
	bw    bool // add the bandwidth
}

func summaryRows() []summaryRow {
	pp := func(label string, size int, bw bool) summaryRow {
		return summaryRow{label, key{"pingpong", 2, "pingpong", size}, bw}
	}
	coll := func(label string, np int, op string, size int) summaryRow {
		return summaryRow{fmt.Sprintf("%s, np=%d", label, np), key{"coll", np, op, size}, false}
	}
	return []summaryRow{
		pp("ping-pong 8 B, one way", 8, false),
		pp("ping-pong 64 KiB, one way", 64<<10, false),
		pp("ping-pong 1 MiB, one way", 1<<20, true),
		pp("ping-pong 16 MiB, one way", 16<<20, true),
		coll("Barrier", 2, "barrier", 0),
		coll("Barrier", 4, "barrier", 0),
		coll("Allreduce of one float64", 2, "allreduce_value", 8),
		coll("Allreduce of one float64", 4, "allreduce_value", 8),
		coll("AllreduceSlice 8 B", 4, "allreduce", 8),
		coll("AllreduceSlice 8 MiB", 2, "allreduce", 8<<20),
		coll("AllreduceSlice 8 MiB", 4, "allreduce", 8<<20),
		coll("AllreduceSliceInto 8 MiB", 4, "allreduce_into", 8<<20),
		coll("Bcast 8 B", 4, "bcast", 8),
		coll("Bcast 8 MiB", 4, "bcast", 8<<20),
		coll("BcastInto 8 MiB", 4, "bcast_into", 8<<20),
		coll("Gather 1 MiB", 4, "gather", 1<<20),
		coll("GatherInto 1 MiB", 4, "gather_into", 1<<20),
		coll("Alltoall 1 MiB", 4, "alltoall", 1<<20),
		coll("AlltoallInto 1 MiB", 4, "alltoall_into", 1<<20),
		{"Init+Finalize, np=4, whole job", key{"initfinalize", 4, "init+finalize", 0}, false},
		launchSummaryRow(),
		{"haversine, np=4", key{"haversine", 4, "haversine", 0}, false},
	}
}

// markdown writes BENCHMARKS.md; links to plots are relative to docDir.
func markdown(cfg config, impls []impl, skipped []string, res *results, m machine, plots []plotFile, plotDir, docDir, work, benchDir string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	peers := impls[1:]

	w("# Benchmarks\n\n")
	w("Written by `cd bench && go run ./compare%s` (%s mode); do not edit, run it again.\n", map[bool]string{true: " -quick"}[cfg.name == "quick"], cfg.name)
	w("What a program pays is the **mean of back-to-back calls**, the headline figure everywhere below.\n\n")
	w("## Machine\n\n")
	w("| | |\n|---|---|\n")
	w("| date | %s |\n| gorun commit | %s |\n| CPUs (`nproc`) | %s |\n| CPU | %s |\n| kernel | %s |\n", m.date, markdownCell(m.commit), m.cpus, m.cpuModel, m.kernel)
	w("| Go | %s |\n| Open MPI | %s |\n| mpi4py / numpy | %s / %s |\n", m.goVersion, m.openMPI, m.mpi4py, m.numpy)
	w("| load average (1, 5, 15 min) | before %s, after %s |\n", m.loadBefore, m.loadAfter)
	w("| host probe (median of %d): first write to a fresh 4 KiB page; one step of a dependent multiply-add chain; start and wait for `true` | before: %s; after: %s |\n", probeRepeats, m.hostBefore, m.hostAfter)
	w("| measuring took | %s |\n\n", m.elapsed.Round(1e9))

	w("## How\n\n")
	for _, im := range impls {
		w("- **%s**: %s\n", im.name, im.about)
	}
	for _, s := range skipped {
		w("- skipped: %s\n", s)
	}
	w("\nRuns alternate: %d rounds; in each round every piece of work (a ping-pong sweep, the collectives at one np, "+
		"one Init+Finalize job, one haversine job) runs with each implementation (%s; gorun first in odd rounds, last in even ones), seconds apart, before "+
		"the next piece. **÷ columns** are gorun's time divided by the peer's (below 1: gorun is faster), the median over "+
		"the rounds of the ratio of the two runs of the same round.", cfg.rounds, implNames(impls))
	if sm := cfg.small; sm.rounds > 0 {
		w(" Then %d rounds more of the small messages alone (ping-pong %s, the collectives at %s at np=%s), alternated "+
			"the same way: calls of about a microsecond are what the host's speed, which changes for minutes at a time, moves "+
			"most, and more rounds of them cost little. Their rows' figures and ratios are medians over all %d rounds.",
			sm.rounds, sizeRange(sm.pingSizes), sizeRange(sm.collSizes), joinInts(sm.collNPs), cfg.rounds+sm.rounds)
	}
	w("\n\n")
	w("For ping-pong and collectives (`bench/ops`, `bench/ops/c/ops.c`, `bench/ops/py/ops.py`, the same loops) each "+
		"operation and size gets warm-up calls (a tenth of the loop's calls and at least 10, the OSU micro-benchmarks' warm-up "+
		"for large messages: a few large calls would otherwise also time the first use of that much memory, such as the Go heap growing "+
		"to its steady size under an allocating form), then:\n\n"+
		"- **mean**: a loop of back-to-back calls with nothing else in it, its time divided by the calls;\n"+
		"- **p50, p99**: percentiles of the calls of a second back-to-back loop in which each call is timed (two reads of "+
		"the clock around it, 0.06-0.13 us a call on a 2-core AMD EPYC VM in each implementation, which the mean leaves out);\n"+
		"- **OSU mean**: the same number of calls with a barrier before each, only the call timed (as the OSU micro-benchmarks).\n\n"+
		"Each is the largest over the ranks, then the median over the rounds. Ping-pong times are one "+
		"way (half a round trip). Calls per loop: `-budget`/size within `-miniters`..`-maxiters` (%s). Sizes are bytes of "+
		"float64 (allreduce, bcast), each rank's part (gather), each block sent to each rank (alltoall, as OSU counts). "+
		"gorun's `allreduce_value` is `Allreduce` of one float64 (8 B only), `allreduce` is `AllreduceSlice` (a new result per call) and `allreduce_into` `AllreduceSliceInto` (the "+
		"caller's buffer); `bcast` is `Bcast` (a new slice per call) and `bcast_into` `BcastInto`; `gather` is `Gather` (a new slice on the root per call) and `gather_into` `GatherInto` (the root's buffer); "+
		"`alltoall` is `Alltoall` ([][]float64 in, new slices out) and `alltoall_into` `AlltoallInto` (flat buffers). MPI's calls always write "+
		"into the caller's buffer, so a peer's plain and `_into` rows (and its 8-byte `allreduce` and `allreduce_value`) are one measurement. "+
		"Each operation runs with only its own buffers live (and a garbage collection between operations): what a Go program pays for "+
		"the forms that allocate grows with its live heap, which sets how far its garbage goes before it is collected and reused.\n\n", strings.Join(cfg.iterFlags, " "))
	w("Init+Finalize is the wall time of a whole job of %d ranks that only joins and leaves (`bench/initfinalize`, its C "+
		"twin, `python3 -c \"from mpi4py import MPI\"`), launcher included, %d jobs per implementation and round. "+
		"The haversine workload (`shared/WORKLOADS.md`, %d requests, np=%d) is `examples/haversine`'s static split and its "+
		"twins `bench/haversine/haversine.c` and `haversine.py` (numpy, vectorized); the figure is the seconds the program "+
		"reports (on rank 0, from a barrier that every rank has reached to the total: generating, sending, computing, "+
		"gathering, reducing), one job per implementation and round.\n\n",
		cfg.launchNP, cfg.launches, cfg.haversineN, cfg.haversineNP)
	w("Commands (BIN is a temporary directory holding the programs built by `go build` and `mpicc -O2`: gorun with " +
		"`CGO_ENABLED=0`, as README.md installs it, the Go programs with `" + goProgramTags + "`, as gorun builds a package; " +
		"BENCH is bench/):\n\n```\n")
	show := func(argv []string) { w("%s\n", shellLine(argv, work, benchDir)) }
	for _, im := range impls {
		show(im.command(2, opsProgram, append([]string{"-kind", "pingpong", "-sizes", sizesFlag(cfg.pingSizes)}, cfg.iterFlags...)...))
	}
	for _, np := range cfg.collNPs {
		for _, im := range impls {
			show(im.command(np, opsProgram, append([]string{"-kind", "coll", "-sizes", sizesFlag(cfg.collSizes[np])}, cfg.iterFlags...)...))
		}
	}
	for _, im := range impls {
		show(im.command(cfg.launchNP, initFinalizeProgram))
	}
	for _, argv := range launchCommands(impls) {
		show(argv)
	}
	for _, im := range impls {
		show(im.command(cfg.haversineNP, haversineProgram, "-n", itoa(cfg.haversineN)))
	}
	w("```\n\n")

	w("## Summary\n\nMeans of back-to-back calls (whole job for Init+Finalize, the program's seconds for haversine).\n\n")
	w("| figure | gorun | gorun p50 / p99 |")
	for _, p := range peers {
		w(" %s | ÷ |", p.name)
	}
	w("\n|---|---|---|%s\n", strings.Repeat("---|---|", len(peers)))
	for _, r := range summaryRows() {
		k := r.k
		if k.bench == "haversine" {
			k.bytes = cfg.haversineN
		}
		if k.bench == "initfinalize" {
			k.np = cfg.launchNP
		}
		g := res.summarize(k, "gorun")
		w("| %s | %s | %s |", r.label, cell(g, k, r.bw), p50p99(g, k))
		for _, p := range peers {
			w(" %s | %s |", cell(res.summarize(k, p.name), k, r.bw), ratioCell(res, k, p.name))
		}
		w("\n")
	}
	w("\n")

	rel := func(name string) string {
		r, err := filepath.Rel(docDir, filepath.Join(plotDir, name))
		if err != nil {
			return name
		}
		return filepath.ToSlash(r)
	}
	plotByName := map[string]plotFile{}
	for _, p := range plots {
		plotByName[p.name] = p
	}
	image := func(name string) {
		if p, ok := plotByName[name]; ok {
			w("![%s](%s)\n\n", p.caption, rel(name))
		}
	}

	w("## Ping-pong, np=2\n\n")
	image("pingpong-latency.svg")
	image("pingpong-bandwidth.svg")
	detail(&b, res, impls, "pingpong", 2)

	for _, np := range cfg.collNPs {
		w("## Collectives, np=%d\n\n", np)
		for _, op := range []string{"allreduce", "bcast", "gather", "alltoall"} {
			image(fmt.Sprintf("coll-%s-np%d.svg", op, np))
		}
		detail(&b, res, impls, "coll", np)
	}
	w("## Barrier against ranks\n\n")
	image("coll-barrier.svg")

	w("## Init+Finalize, np=%d, whole job\n\n", cfg.launchNP)
	detail(&b, res, impls, "initfinalize", cfg.launchNP)
	launchSection(&b, cfg, res, impls)
	w("## Haversine, np=%d, %d requests\n\n", cfg.haversineNP, cfg.haversineN)
	detail(&b, res, impls, "haversine", cfg.haversineNP)

	if len(res.failures) > 0 {
		w("## Runs that failed\n\n")
		for _, f := range res.failures {
			w("- %s\n", strings.ReplaceAll(f, "\n", " "))
		}
		w("\n")
	}
	return b.String()
}

// detail writes the table of every figure of one benchmark at np ranks.
func detail(b *strings.Builder, res *results, impls []impl, bench string, np int) {
	fmt.Fprintf(b, "| op | size | implementation | mean | OSU mean | p50 | p99 | gorun ÷ this |\n|---|---|---|---|---|---|---|---|\n")
	for _, k := range res.keys {
		if k.bench != bench || k.np != np {
			continue
		}
		for _, im := range impls {
			s := res.summarize(k, im.name)
			if !s.ok {
				continue
			}
			unit := unitOf(bench)
			osu := "—"
			if bench == "pingpong" || bench == "coll" {
				osu = duration(s.osuMean, unit)
			}
			ratio := ""
			if im.name != "gorun" {
				ratio = ratioCell(res, k, im.name)
			}
			size := byteLabel(k.bytes)
			if bench == "haversine" {
				size = itoa(k.bytes) + " requests"
			} else if k.bytes == 0 {
				size = "—"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", k.op, size, im.name, duration(s.mean, unit), osu, duration(s.p50, unit), duration(s.p99, unit), ratio)
		}
	}
	b.WriteString("\n")
}

func cell(s summary, k key, bw bool) string {
	if !s.ok {
		return "—"
	}
	c := duration(s.mean, unitOf(k.bench))
	if bw && s.mean > 0 {
		c += fmt.Sprintf(" (%.0f MB/s)", float64(k.bytes)/s.mean)
	}
	return c
}

func p50p99(s summary, k key) string {
	if !s.ok {
		return "—"
	}
	return duration(s.p50, unitOf(k.bench)) + " / " + duration(s.p99, unitOf(k.bench))
}

func ratioCell(res *results, k key, peer string) string {
	r, ok := res.ratio(k, peer)
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.2fx", r)
}

func implNames(impls []impl) string {
	names := make([]string, len(impls))
	for i, im := range impls {
		names[i] = im.name
	}
	return strings.Join(names, ", ")
}

// shellLine writes argv as a shell command, with BIN for the build
// directory and BENCH for the bench directory.
func shellLine(argv []string, work, benchDir string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		a = strings.ReplaceAll(a, work, "BIN")
		a = strings.ReplaceAll(a, benchDir, "BENCH")
		if strings.ContainsAny(a, " \"'$") {
			a = "'" + a + "'"
		}
		words[i] = a
	}
	return strings.Join(words, " ")
}

// sizeRange names sizes in bytes: "8 B" for one, "8 B-64 KiB" for several.
func sizeRange(sizes []int) string {
	if len(sizes) == 0 {
		return ""
	}
	if len(sizes) == 1 {
		return humanBytes(sizes[0])
	}
	return humanBytes(sizes[0]) + "-" + humanBytes(sizes[len(sizes)-1])
}

// humanBytes names a size in bytes as the tables do: 8 B, 64 KiB, 16 MiB.
func humanBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " B"
}

// markdownCell makes s safe inside a table cell: a "|" would end it.
func markdownCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
