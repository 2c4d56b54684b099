package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gorun-mpi/gorun/internal/control"
)

// maxExplained bounds each kind of line explain writes.
const maxExplained = 5

// explain says why the ranks of a deadlocked job wait, from their last
// reports: the wait-for cycle, messages that arrived but match no receive,
// ranks that finished while others wait for any rank, and ranks in
// different collectives on one communicator. Call it once the job was
// found deadlocked; each line is meant to be printed under the verdict.
func (j *jobState) explain() []string {
	var lines []string
	if cycle := j.waitCycle(); cycle != "" {
		lines = append(lines, "cycle: "+cycle)
	}
	lines = append(lines, j.unmatchedLines()...)
	lines = append(lines, j.finishedLines()...)
	lines = append(lines, j.collectiveLines()...)
	return lines
}

// blockedRanks lists the live ranks blocked in a call, in rank order.
func (j *jobState) blockedRanks() []int {
	var out []int
	for i := range j.ranks {
		if r := &j.ranks[i]; !r.exited && r.blocked {
			out = append(out, i)
		}
	}
	return out
}

// edge is one wait of a rank for another.
type edge struct {
	to   int
	wait control.Wait
}

// edges are the ranks that rank waits for: a named peer, or, for a
// receive from any source or a collective, every other blocked rank.
// specific keeps only waits that name a peer.
func (j *jobState) edges(rank int, blocked []int, specific bool) []edge {
	var out []edge
	for _, w := range j.ranks[rank].waits {
		switch {
		case w.Peer >= 0:
			if slices.Contains(blocked, w.Peer) && w.Peer != rank {
				out = append(out, edge{w.Peer, w})
			}
		case !specific:
			for _, q := range blocked {
				if q != rank {
					out = append(out, edge{q, w})
				}
			}
		}
	}
	return out
}

// waitCycle finds a cycle of ranks each waiting for the next, preferring
// waits that name their peer, and writes it as
// "rank 0 Recv(source 1, tag 5) → rank 1 Recv(source 0, tag 7) → rank 0".
func (j *jobState) waitCycle() string {
	blocked := j.blockedRanks()
	for _, specific := range []bool{true, false} {
		for _, start := range blocked {
			if path := j.findCycle(start, blocked, specific); path != nil {
				var b strings.Builder
				for _, e := range path {
					fmt.Fprintf(&b, "rank %d %s → ", e.from, e.wait.Call)
				}
				fmt.Fprintf(&b, "rank %d", start)
				return b.String()
			}
		}
	}
	return ""
}

// step is one edge of a path, with where it starts.
type step struct {
	from int
	wait control.Wait
}

// findCycle returns a path of waits from start back to start, or nil.
func (j *jobState) findCycle(start int, blocked []int, specific bool) []step {
	seen := map[int]bool{}
	var path []step
	var visit func(rank int) bool
	visit = func(rank int) bool {
		seen[rank] = true
		for _, e := range j.edges(rank, blocked, specific) {
			path = append(path, step{rank, e.wait})
			if e.to == start || (!seen[e.to] && visit(e.to)) {
				return true
			}
			path = path[:len(path)-1]
		}
		return false
	}
	if visit(start) {
		return path
	}
	return nil
}

// unmatchedLines names messages that arrived but that no receive takes,
// and what the receiver waits for instead.
func (j *jobState) unmatchedLines() []string {
	var lines []string
	for _, r := range j.blockedRanks() {
		for _, u := range j.ranks[r].unmatched {
			if len(lines) == maxExplained {
				return lines
			}
			var instead []string
			for _, w := range j.ranks[r].waits {
				if w.Recv && w.Comm == u.Comm && (w.Peer == u.Source || w.Peer == control.AnyPeer) {
					instead = append(instead, tagWord(w.Tag))
				}
			}
			line := fmt.Sprintf("never received: rank %d sent tag %d to rank %d", u.Source, u.Tag, r)
			if len(instead) > 0 {
				line += fmt.Sprintf(", which waits for %s from it", strings.Join(instead, " and "))
			} else {
				line += fmt.Sprintf(", which waits in %s", j.ranks[r].op)
			}
			lines = append(lines, line)
		}
	}
	return lines
}

func tagWord(tag int) string {
	if tag == -1 {
		return "any tag (on another communicator)"
	}
	return fmt.Sprintf("tag %d", tag)
}

// finishedLines names the ranks that finished while live ranks wait for a
// message from any rank.
func (j *jobState) finishedLines() []string {
	var finished []string
	for i := range j.ranks {
		if r := &j.ranks[i]; r.exited && r.finalized {
			finished = append(finished, fmt.Sprint(i))
		}
	}
	if len(finished) == 0 {
		return nil
	}
	var waiting []string
	for _, r := range j.blockedRanks() {
		for _, w := range j.ranks[r].waits {
			if w.Peer == control.AnyPeer && w.Recv {
				waiting = append(waiting, fmt.Sprint(r))
				break
			}
		}
	}
	if len(waiting) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s %s finished while %s %s for a message from any rank: only blocked ranks are left to send it",
		plural("rank", finished), verb(finished, "has", "have"), plural("rank", waiting), verb(waiting, "waits", "wait"))}
}

// collectiveLines names ranks in different collectives on one communicator.
func (j *jobState) collectiveLines() []string {
	byComm := map[uint32]map[string][]string{} // comm -> op -> ranks
	for _, r := range j.blockedRanks() {
		for _, w := range j.ranks[r].waits {
			if w.Comm%2 == 1 { // a collective's context
				if byComm[w.Comm] == nil {
					byComm[w.Comm] = map[string][]string{}
				}
				byComm[w.Comm][w.Op] = append(byComm[w.Comm][w.Op], fmt.Sprint(r))
			}
		}
	}
	var lines []string
	for _, ops := range byComm {
		if len(ops) < 2 {
			continue
		}
		var parts []string
		for op, ranks := range ops {
			parts = append(parts, fmt.Sprintf("%s %s in %s", plural("rank", ranks), verb(ranks, "is", "are"), op))
		}
		slices.Sort(parts)
		lines = append(lines, "different collectives on one communicator: "+strings.Join(parts, ", "))
	}
	slices.Sort(lines)
	return lines
}

// plural writes "rank 2" or "ranks 0, 1".
func plural(word string, items []string) string {
	if len(items) == 1 {
		return word + " " + items[0]
	}
	return word + "s " + strings.Join(items, ", ")
}

func verb(items []string, one, many string) string {
	if len(items) == 1 {
		return one
	}
	return many
}
