package main

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/examples/internal/runexample"
)

func TestMain(m *testing.M) { runexample.Main(m) }

// reference is WORKLOADS.md's sum for 80,000 requests.
const reference = 801123227.466

var totalLine = regexp.MustCompile(`(?m)^total_km=(\d+\.\d{6}) requests=(\d+) ranks=(\d+) seconds=\d+\.\d+$`)

func checkTotal(t *testing.T, np int, stdout string) {
	t.Helper()
	m := totalLine.FindStringSubmatch(stdout)
	if m == nil || m[2] != "80000" || m[3] != strconv.Itoa(np) {
		t.Fatalf("np=%d: no total line for 80000 requests and %d ranks:\n%s", np, np, stdout)
	}
	total, _ := strconv.ParseFloat(m[1], 64)
	if rel := math.Abs(total-reference) / reference; rel > 1e-9 {
		t.Errorf("np=%d: total_km=%s, %.2e away from %v", np, m[1], rel, reference)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if !totalLine.MatchString(lines[len(lines)-1]) {
		t.Errorf("np=%d: the total is not the last line:\n%s", np, stdout)
	}
}

func checkNamed(t *testing.T, np int, stdout string) {
	t.Helper()
	for _, want := range []string{"california_to_newJersey: 3973 km", "oklahoma_to_texas: 533 km",
		"arizona_to_kansas: 1350 km", "mississippi_to_boston: 1958 km"} {
		m := regexp.MustCompile(want + ` \(rank (\d+)\)`).FindStringSubmatch(stdout)
		if m == nil {
			t.Errorf("np=%d: missing %q in:\n%s", np, want, stdout)
			continue
		}
		if r, _ := strconv.Atoi(m[1]); r >= np {
			t.Errorf("np=%d: %s computed by rank %d", np, want, r)
		}
	}
}

func TestStatic(t *testing.T) {
	for _, np := range []int{1, 3, 4} {
		res := runexample.MustSucceed(t, runexample.Options{NP: np})
		checkNamed(t, np, res.Stdout)
		checkTotal(t, np, res.Stdout)
		if got := strings.Count(res.Stdout, "requests\n"); got != np {
			t.Errorf("np=%d: %d ranks answered requests", np, got)
		}
	}
	// With 4 ranks the named requests are spread one per rank.
	res := runexample.MustSucceed(t, runexample.Options{NP: 4})
	for r := range 4 {
		if !strings.Contains(res.Stdout, fmt.Sprintf(" km (rank %d)", r)) {
			t.Errorf("rank %d computed no named request:\n%s", r, res.Stdout)
		}
	}
}

func TestDynamic(t *testing.T) {
	for _, np := range []int{1, 2, 5} {
		res := runexample.MustSucceed(t, runexample.Options{NP: np, Args: []string{"-dynamic", "-chunk", "3000"}})
		checkNamed(t, np, res.Stdout)
		checkTotal(t, np, res.Stdout)
		handed := 0
		for _, m := range regexp.MustCompile(`(?m)^rank (\d+) answered (\d+) requests on demand$`).FindAllStringSubmatch(res.Stdout, -1) {
			if np > 1 && m[1] == "0" {
				t.Errorf("np=%d: rank 0 answered requests: with workers it only hands them out", np)
			}
			k, _ := strconv.Atoi(m[2])
			handed += k
		}
		if handed != 80000 {
			t.Errorf("np=%d: %d requests answered, want 80000:\n%s", np, handed, res.Stdout)
		}
	}
}

// TestOverNATS runs both modes with every message going through the NATS
// server gorun embeds.
func TestOverNATS(t *testing.T) {
	for _, args := range [][]string{nil, {"-dynamic"}} {
		res := runexample.MustSucceed(t, runexample.Options{NP: 3, Args: args, GorunFlags: []string{"--transport", "nats"}})
		checkNamed(t, 3, res.Stdout)
		checkTotal(t, 3, res.Stdout)
	}
}

// TestPhases: with -phases every rank of the static split prints one line
// on stderr naming its phases in the order they happen (rank 0 generates
// and sends each other rank's share, then generates its own; the others
// receive theirs), each with a time no earlier than the one before, and
// the answer is unchanged.
func TestPhases(t *testing.T) {
	const np = 3
	res := runexample.MustSucceed(t, runexample.Options{NP: np, Args: []string{"-phases"}})
	checkTotal(t, np, res.Stdout)
	want := map[string][]string{
		"0": {"gen1", "sent1", "gen2", "sent2", "gen0", "computed", "gathered", "reduced"},
		"1": {"recvd", "computed", "gathered", "reduced"},
		"2": {"recvd", "computed", "gathered", "reduced"},
	}
	lines := regexp.MustCompile(`(?m)^phases rank (\d+): (.*)$`).FindAllStringSubmatch(res.Stderr, -1)
	if len(lines) != np {
		t.Fatalf("%d phases lines, want one per rank (%d):\n%s", len(lines), np, res.Stderr)
	}
	for _, line := range lines {
		rank, fields := line[1], strings.Fields(line[2])
		var names []string
		last := -1.0
		for _, f := range fields {
			name, value, _ := strings.Cut(f, "=")
			ms, err := strconv.ParseFloat(value, 64)
			if err != nil || ms < last {
				t.Errorf("rank %s: %q is not a time no earlier than the last (%v ms) in %q", rank, f, last, line[0])
			}
			last = ms
			names = append(names, name)
		}
		if !slices.Equal(names, want[rank]) {
			t.Errorf("rank %s: phases %q, want %q", rank, names, want[rank])
		}
	}
}
