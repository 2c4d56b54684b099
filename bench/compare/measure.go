package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// measureAll runs every benchmark, cfg.rounds times, each round running
// every implementation on the same work before the next piece of work, in
// roundOrder.
func measureAll(cfg config, impls []impl, res *results) error {
	timeout, err := time.ParseDuration(cfg.perRunTimeout)
	if err != nil {
		return err
	}
	all := impls
	for round := 1; round <= cfg.rounds; round++ {
		impls := roundOrder(all, round)
		fmt.Printf("round %d of %d (%s, on each piece of work)\n", round, cfg.rounds, implNames(impls))
		measureTables(cfg, impls, res, round, timeout, cfg.pingSizes, cfg.collNPs, func(np int) []int { return cfg.collSizes[np] })
		launchStart := time.Now()
		for range cfg.launches {
			for _, im := range impls {
				start := time.Now()
				if _, ok := runJob(res, im.name, timeout, im.command(cfg.launchNP, initFinalizeProgram)); ok {
					ms := float64(time.Since(start).Nanoseconds()) / 1e6
					res.add(key{"initfinalize", cfg.launchNP, "init+finalize", 0}, im.name, round, row{mean: ms})
				}
			}
		}
		fmt.Printf("  init+finalize: %d jobs of np=%d per implementation, alternating  %5.1fs\n", cfg.launches, cfg.launchNP, time.Since(launchStart).Seconds())
		measureLaunches(cfg, impls, res, round, timeout)
		for _, im := range impls {
			start := time.Now()
			out, ok := runJob(res, im.name, timeout, im.command(cfg.haversineNP, haversineProgram, "-n", itoa(cfg.haversineN)))
			if !ok {
				continue
			}
			if wrong := wrongHaversineTotal(out, cfg.haversineN); wrong != "" {
				res.failures = append(res.failures, fmt.Sprintf("%s haversine: %s", im.name, wrong))
			} else if secs, found := reportedSeconds(out); found {
				res.add(key{"haversine", cfg.haversineNP, "haversine", cfg.haversineN}, im.name, round, row{mean: secs})
				fmt.Printf("  %-12s haversine np=%d  %.3fs reported  %5.1fs\n", im.name, cfg.haversineNP, secs, time.Since(start).Seconds())
			} else {
				res.failures = append(res.failures, fmt.Sprintf("%s haversine: no seconds= in its output:\n%s", im.name, out))
			}
		}
	}
	measureSmall(cfg, all, res, timeout)
	return nil
}

// measureSmall runs cfg.small's rounds, numbered on from cfg.rounds: the
// ping-pong sweep over its sizes and the collectives at its sizes, in
// roundOrder.
func measureSmall(cfg config, all []impl, res *results, timeout time.Duration) {
	small := cfg.small
	for i := 1; i <= small.rounds; i++ {
		round := cfg.rounds + i
		impls := roundOrder(all, round)
		fmt.Printf("small-message round %d of %d (%s)\n", i, small.rounds, implNames(impls))
		measureTables(cfg, impls, res, round, timeout, small.pingSizes, small.collNPs, func(int) []int { return small.collSizes })
	}
}

// measureTables runs, with each implementation in turn, the ping-pong
// sweep over pingSizes and, for each np of collNPs, the collectives at
// collSizes(np), as round.
func measureTables(cfg config, impls []impl, res *results, round int, timeout time.Duration, pingSizes, collNPs []int, collSizes func(np int) []int) {
	for _, im := range impls {
		args := append([]string{"-kind", "pingpong", "-sizes", sizesFlag(pingSizes)}, cfg.iterFlags...)
		runTable(res, im, round, "pingpong", 2, timeout, im.command(2, opsProgram, args...))
	}
	for _, np := range collNPs {
		for _, im := range impls {
			args := append([]string{"-kind", "coll", "-sizes", sizesFlag(collSizes(np))}, cfg.iterFlags...)
			runTable(res, im, round, "coll", np, timeout, im.command(np, opsProgram, args...))
		}
	}
}

// roundOrder is the order in which round runs the implementations: gorun
// first in odd rounds and last in even ones, so that no implementation
// always runs right after another's work. (With gorun always first, its
// haversine job came out at 1.15-1.27x the C twin in three full runs,
// while the same binaries alternated by hand, eight rounds, gave 0.431
// against 0.451 s: an order effect is suspected, not shown.)
func roundOrder(impls []impl, round int) []impl {
	if round%2 == 1 {
		return impls
	}
	reversed := slices.Clone(impls)
	slices.Reverse(reversed)
	return reversed
}

// runTable runs a bench/ops job and records its table.
func runTable(res *results, im impl, round int, bench string, np int, timeout time.Duration, argv []string) {
	start := time.Now()
	out, ok := runJob(res, im.name, timeout, argv)
	if !ok {
		return
	}
	n := 0
	for _, t := range parseTable(out) {
		res.add(key{bench, np, t.op, t.bytes}, im.name, round, t.row)
		n++
	}
	fmt.Printf("  %-12s %-8s np=%d  %3d rows  %5.1fs\n", im.name, bench, np, n, time.Since(start).Seconds())
}

// tableRow is a parsed line of bench/ops's table.
type tableRow struct {
	op    string
	bytes int
	row
}

// parseTable reads the rows of bench/ops's table (or a twin's) from its
// output; comment, header and other lines are skipped.
func parseTable(out string) []tableRow {
	var rows []tableRow
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 7 || strings.HasPrefix(f[0], "#") {
			continue
		}
		var nums [6]float64
		ok := true
		for i := range nums {
			v, err := strconv.ParseFloat(f[i+1], 64)
			nums[i], ok = v, ok && err == nil
		}
		if ok {
			rows = append(rows, tableRow{f[0], int(nums[0]), row{int(nums[1]), nums[2], nums[3], nums[4], nums[5]}})
		}
	}
	return rows
}

// runJob runs one job, bounded by timeout (the whole process group is
// killed then), and returns its standard output; a failure is recorded
// and reported, and ok is false.
func runJob(res *results, implName string, timeout time.Duration, argv []string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("killed after %s: %w", timeout, err)
		}
		msg := fmt.Sprintf("%s: `%s`: %v; stderr: %s", implName, strings.Join(argv, " "), err, tail(stderr.String(), 600))
		fmt.Println("  FAILED", msg)
		res.failures = append(res.failures, msg)
		return "", false
	}
	return stdout.String(), true
}

// reportedSeconds finds "seconds=S" in a haversine program's output.
func reportedSeconds(out string) (float64, bool) {
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, "seconds="); ok {
			secs, err := strconv.ParseFloat(v, 64)
			return secs, err == nil
		}
	}
	return 0, false
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
