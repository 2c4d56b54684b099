package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Map-by policies: fill each host's slots in turn, or deal ranks round
// robin across hosts.
const (
	mapBySlot = "slot"
	mapByNode = "node"
)

// hostSlots is one host of a job's host list and how many ranks it may run
// (0: as many as its agent has free).
type hostSlots struct {
	name  string
	slots int
}

// errPlacement marks a job that cannot be placed: nothing starts.
var errPlacement = errors.New("cannot place the job")

// parseHostList reads "--hosts a:4,b:4" ("a" alone is one slot).
func parseHostList(s string) ([]hostSlots, error) {
	var hosts []hostSlots
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		name, count, hasCount := strings.Cut(item, ":")
		h := hostSlots{name: name, slots: 1}
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("--hosts %q: %q: the slot count must be a number of 1 or more", s, item)
			}
			h.slots = n
		}
		if !validName(name) {
			return nil, fmt.Errorf("--hosts %q: %q is not an agent name (letters, digits, '-' and '_')", s, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("--hosts %q: %s appears twice", s, name)
		}
		seen[name] = true
		hosts = append(hosts, h)
	}
	return hosts, nil
}

// readHostfile reads mpirun-style lines "name slots=N" ("#" starts a
// comment; a name alone is one slot).
func readHostfile(path string) ([]hostSlots, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--hostfile: %w", err)
	}
	defer f.Close()
	var hosts []hostSlots
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		h := hostSlots{name: fields[0], slots: 1}
		if !validName(h.name) || seen[h.name] {
			return nil, fmt.Errorf("--hostfile %s:%d: %q is not a new agent name", path, line, h.name)
		}
		for _, field := range fields[1:] {
			key, val, _ := strings.Cut(field, "=")
			n, err := strconv.Atoi(val)
			if key != "slots" || err != nil || n < 1 {
				return nil, fmt.Errorf("--hostfile %s:%d: %q: want slots=N with N of 1 or more", path, line, field)
			}
			h.slots = n
		}
		seen[h.name] = true
		hosts = append(hosts, h)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--hostfile %s: %w", path, err)
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("--hostfile %s: no hosts in it", path)
	}
	return hosts, nil
}

// autoHosts lists the answering agents with free slots, by name.
func autoHosts(agents []agentInfo) []hostSlots {
	sorted := append([]agentInfo(nil), agents...)
	sort.Slice(sorted, func(i, k int) bool { return sorted[i].Name < sorted[k].Name })
	var hosts []hostSlots
	for _, a := range sorted {
		if a.Free > 0 {
			hosts = append(hosts, hostSlots{name: a.Name, slots: a.Free})
		}
	}
	return hosts
}

// place gives each of np ranks a host index. By slot, ranks fill each
// host's slots in turn (ranks 0-3 on a, 4-7 on b); by node, they are dealt
// one per host in turn (0 on a, 1 on b, 2 on a...). With oversubscribe,
// ranks beyond the slots are dealt round robin over the hosts again.
func place(np int, hosts []hostSlots, mapBy string, oversubscribe bool) ([]int, error) {
	if len(hosts) == 0 {
		return nil, fmt.Errorf("%w: no host has a free slot", errPlacement)
	}
	total := 0
	for _, h := range hosts {
		total += h.slots
	}
	if np > total && !oversubscribe {
		return nil, fmt.Errorf("%w: %d ranks asked, %d slots given (%s); add hosts or slots, or --oversubscribe",
			errPlacement, np, total, describeHosts(hosts))
	}
	counts := make([]int, len(hosts))
	left := np
	if mapBy == mapBySlot {
		for i, h := range hosts {
			counts[i] = min(h.slots, left)
			left -= counts[i]
		}
	}
	for i := 0; left > 0; i = (i + 1) % len(hosts) {
		if counts[i] < hosts[i].slots || np > total {
			counts[i]++
			left--
		}
	}
	hostOf := make([]int, 0, np)
	if mapBy == mapBySlot {
		for i, n := range counts {
			for range n {
				hostOf = append(hostOf, i)
			}
		}
		return hostOf, nil
	}
	for len(hostOf) < np {
		for i := range counts {
			if counts[i] > 0 {
				hostOf = append(hostOf, i)
				counts[i]--
			}
		}
	}
	return hostOf, nil
}

// describeHosts is "a:2, b:2".
func describeHosts(hosts []hostSlots) string {
	parts := make([]string, len(hosts))
	for i, h := range hosts {
		parts[i] = h.name + ":" + strconv.Itoa(h.slots)
	}
	return strings.Join(parts, ", ")
}

// placementSummary is the one line that tells where each rank runs:
// "ranks 0-1 on a, ranks 2-3 on b".
func placementSummary(hostOf []int, names []string) string {
	var parts []string
	for h, name := range names {
		var ranks []int
		for r, hr := range hostOf {
			if hr == h {
				ranks = append(ranks, r)
			}
		}
		if len(ranks) > 0 {
			parts = append(parts, rankList(ranks)+" on "+name)
		}
	}
	return strings.Join(parts, ", ")
}

// rankList is "rank 3", "ranks 0-3" or "ranks 0,2,4".
func rankList(ranks []int) string {
	if len(ranks) == 1 {
		return "rank " + strconv.Itoa(ranks[0])
	}
	contiguous := ranks[len(ranks)-1]-ranks[0] == len(ranks)-1
	if contiguous {
		return fmt.Sprintf("ranks %d-%d", ranks[0], ranks[len(ranks)-1])
	}
	parts := make([]string, len(ranks))
	for i, r := range ranks {
		parts[i] = strconv.Itoa(r)
	}
	return "ranks " + strings.Join(parts, ",")
}
