package tests

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// sentFrames reads the frames each rank reported sending to each rank
// (jobenv.TestFrames) from a job's stderr: sent[r][q] is rank r's to q.
func sentFrames(t *testing.T, stderr string, np int) [][]uint64 {
	t.Helper()
	sent := make([][]uint64, np)
	re := regexp.MustCompile(`(?m)^(?:\[\d+\] )?gorun-test: rank (\d+) sent frames: ([\d ]+)$`)
	for _, m := range re.FindAllStringSubmatch(stderr, -1) {
		r, _ := strconv.Atoi(m[1])
		fields := strings.Fields(m[2])
		if r >= np || len(fields) != np || sent[r] != nil {
			t.Fatalf("bad frame report %q (np %d)", m[0], np)
		}
		sent[r] = make([]uint64, np)
		for q, f := range fields {
			sent[r][q], _ = strconv.ParseUint(f, 10, 64)
		}
	}
	for r := range sent {
		if sent[r] == nil {
			t.Fatalf("rank %d reported no frames\nstderr:\n%s", r, stderr)
		}
	}
	return sent
}

// checkHostFrames compares the frames a job of few rounds and one of
// many (tests/progs/collectives rounds) sent, on placement: ranks of one
// host send each other no more in the longer job (every phase on a host
// goes through its shared memory), while the host's representatives do
// send more to the other hosts' (the counts are live).
func checkHostFrames(t *testing.T, placement []int, few, many [][]uint64) {
	t.Helper()
	across := false
	for r := range placement {
		for q := range placement {
			switch {
			case q == r:
			case placement[q] == placement[r]:
				if many[r][q] != few[r][q] {
					t.Errorf("rank %d sent rank %d (same host) %d frames in the short job and %d in the long one: the phases on a host sent messages",
						r, q, few[r][q], many[r][q])
				}
			case many[r][q] > few[r][q]:
				across = true
			}
		}
	}
	if !across {
		t.Errorf("no rank sent more frames to another host in the long job: the counts are not live\nshort %v\nlong %v", few, many)
	}
}

// TestPlacementHierSharedMemory: under a placement over pretend hosts
// (GORUN_TEST_PLACEMENT), the launcher makes one shared memory per host,
// and the hierarchical collectives on the world run their phases on a
// host through it: the ranks of a host send each other no frame more in
// 12 rounds of collectives than in 2 (on main, every round sent several).
// Results are checked in every round (tests/progs/collectives rounds).
func TestPlacementHierSharedMemory(t *testing.T) {
	for _, placement := range []string{"0,0,1,1", "1,1,0,0,0,2", "0,1,0,1,0"} {
		t.Run(placement, func(t *testing.T) {
			hosts, err := jobenv.ParsePlacement(placement, strings.Count(placement, ",")+1)
			if err != nil {
				t.Fatal(err)
			}
			np := len(hosts)
			var sent [2][][]uint64
			for i, n := range []int{2, 12} {
				res := runGorun(t, job{np: np, prog: "collectives", args: []string{"rounds", fmt.Sprint(n)},
					env: []string{placementEnv + "=" + placement, jobenv.TestFrames + "=1"}})
				if res.code != 0 || strings.Count(res.stdout, " ok rounds ") != np {
					t.Fatalf("rounds %d: exit status %d\nstdout:\n%s\nstderr:\n%s", n, res.code, res.stdout, res.stderr)
				}
				sent[i] = sentFrames(t, res.stderr, np)
			}
			checkHostFrames(t, hosts, sent[0], sent[1])
			t.Logf("frames sent (rank: to each rank), 2 rounds %v, 12 rounds %v", sent[0], sent[1])
		})
	}
}

// TestPlacementHierSharedMemoryEnds: under a placement over pretend hosts,
// a rank that exits between two AllreduceSlice calls leaves its host's
// ranks waiting for it in their shared memory: the job still ends at once
// with gorun's usual line naming it, and no process is left; and ranks
// blocked in a host's shared memory for ranks that never come make a
// deadlock report that says so.
func TestPlacementHierSharedMemoryEnds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		placement string
		args      []string
		status    int
		line      string
	}{
		{"a host's second rank exits", "0,0,1,1", []string{"-mode", "die-in-collective", "-rank", "1", "-code", "3"}, 3,
			`^gorun: rank 1 \(pid \d+\) exited with status 3$`},
		{"a host's last rank exits", "1,1,0,0,0", []string{"-mode", "die-in-collective", "-rank", "4", "-code", "5"}, 5,
			`^gorun: rank 4 \(pid \d+\) exited with status 5$`},
		{"a representative exits", "0,0,1,1", []string{"-mode", "die-in-collective", "-rank", "2", "-code", "3"}, 3,
			`^gorun: rank 2 \(pid \d+\) exited with status 3$`},
		{"deadlock", "0,0,1,1", []string{"-mode", "collective-deadlock"}, 1,
			`^gorun: deadlock: .*rank 0 in AllreduceSlice in shared memory; rank 1 in Recv\(source 0, tag 5\); rank 2 in AllreduceSlice in shared memory; rank 3 in Recv\(source 0, tag 5\)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			np := strings.Count(tc.placement, ",") + 1
			res := runGorun(t, job{np: np, prog: "behave", args: tc.args, env: []string{placementEnv + "=" + tc.placement}})
			if res.code != tc.status {
				t.Errorf("exit status %d, want %d\nstderr:\n%s", res.code, tc.status, res.stderr)
			}
			g := gorunLines(res.stderr)
			if len(g) == 0 || !regexp.MustCompile(tc.line).MatchString(g[0]) {
				t.Errorf("gorun said %q, want a line matching %s", g, tc.line)
			}
			noProcessLeft(t, res)
		})
	}
}
