package main

import (
	"fmt"
	"strings"
	"time"
)

// The launcher alone: jobs whose ranks are /bin/true, which never joins
// the job, so that the figure is what the launcher itself costs (starting
// the ranks, noticing their ends, cleaning up), beside mpirun doing the
// same.

// launchBench is the results' name of the launcher-alone jobs.
const launchBench = "launch"

// trueProgram is the program of the launcher-alone jobs.
const trueProgram = "/bin/true"

// launchNPs are the sizes of gorun's launcher-alone jobs; the peer runs
// launchPeerNP only (its launcher, not its transport, is measured, so the
// other peers would repeat it).
var launchNPs = []int{2, 4, 8}

const (
	launchPeerNP = 4
	launchPeer   = "openmpi"
)

// launchKey names the launcher-alone figure of np ranks.
func launchKey(np int) key { return key{launchBench, np, trueProgram, 0} }

// launchCommand is im's command for a job of np ranks of /bin/true: its
// Init+Finalize command with /bin/true as the program (both gorun's and
// mpirun's end with the program's path when it takes no arguments).
func launchCommand(im impl, np int) []string {
	argv := im.command(np, initFinalizeProgram)
	return append(argv[:len(argv)-1:len(argv)-1], trueProgram)
}

// launchImpls are the implementations that run launcher-alone jobs, with
// the sizes each runs.
func launchImpls(impls []impl) map[string][]int {
	sizes := map[string][]int{}
	for _, im := range impls {
		switch im.name {
		case "gorun":
			sizes[im.name] = launchNPs
		case launchPeer:
			sizes[im.name] = []int{launchPeerNP}
		}
	}
	return sizes
}

// measureLaunches runs cfg.launches launcher-alone jobs of each size per
// implementation in one round, gorun and the peer alternating job by job.
func measureLaunches(cfg config, impls []impl, res *results, round int, timeout time.Duration) {
	start := time.Now()
	sizes := launchImpls(impls)
	for range cfg.launches {
		for _, np := range launchNPs {
			for _, im := range impls {
				if !containsInt(sizes[im.name], np) {
					continue
				}
				t := time.Now()
				if _, ok := runJob(res, im.name, timeout, launchCommand(im, np)); ok {
					ms := float64(time.Since(t).Nanoseconds()) / 1e6
					res.add(launchKey(np), im.name, round, row{mean: ms})
				}
			}
		}
	}
	fmt.Printf("  %s: %d jobs per size and implementation, alternating  %5.1fs\n", trueProgram, cfg.launches, time.Since(start).Seconds())
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// launchSummaryRow is the summary table's launcher-alone line.
func launchSummaryRow() summaryRow {
	return summaryRow{fmt.Sprintf("launcher alone: -np %d %s, whole job", launchPeerNP, trueProgram), launchKey(launchPeerNP), false}
}

// launchCommands are the launcher-alone commands, for the list of commands.
func launchCommands(impls []impl) [][]string {
	sizes := launchImpls(impls)
	var cmds [][]string
	for _, im := range impls {
		for _, np := range sizes[im.name] {
			cmds = append(cmds, launchCommand(im, np))
		}
	}
	return cmds
}

// launchSection writes the launcher-alone section of BENCHMARKS.md.
func launchSection(b *strings.Builder, cfg config, res *results, impls []impl) {
	fmt.Fprintf(b, "## Launcher alone: -np N %s, whole job\n\n", trueProgram)
	fmt.Fprintf(b, "The wall time of a whole job whose ranks are `%s` (they never join the job): what the launcher "+
		"itself costs, starting the ranks, noticing their ends and cleaning up. gorun at np %s, %s at np %d "+
		"(its launcher is the same for every transport), %d jobs per size and round.\n\n",
		trueProgram, joinInts(launchNPs), launchPeer, launchPeerNP, cfg.launches)
	for _, np := range launchNPs {
		detail(b, res, impls, launchBench, np)
	}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = itoa(x)
	}
	return strings.Join(s, ", ")
}
