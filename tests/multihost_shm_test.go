package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// startAgentWith is startAgent with env added to the agent's environment
// (so to its ranks').
func (r *hostsRig) startAgentWith(t testing.TB, name string, slots int, env ...string) {
	t.Helper()
	if r.caches[name] == "" {
		r.Hide(name, binDir)
		r.caches[name] = t.TempDir()
	}
	a := r.Start(t, name, append([]string{"GORUN_TEST_MARKER=" + r.marker}, env...), r.gorun, "agent", "--nats", r.URL(),
		"--name", name, "--slots", itoa(slots), "--cache", r.caches[name])
	if !a.WaitFor("serving", 20*time.Second) {
		t.Fatalf("agent %s did not start:\n%s", name, a.Output())
	}
	r.agents[name] = a
}

// TestMultihostHostSharedMemory: each agent gives its ranks of a job one
// shared memory (descriptor 3, GORUN_SHM_FD), and the hierarchical
// collectives run their phases on a host through it: over two agents, with
// ranks in blocks (--map-by slot) and interleaved (--map-by node), the
// ranks of a host send each other no frame more in 12 rounds of
// collectives than in 2, results checked in every round; the collective
// suite passes; ranks blocked in their host's shared memory are reported
// there in a deadlock; and a rank that exits while its host's ranks wait
// for it in their shared memory ends the job with the usual line, no rank
// left.
func TestMultihostHostSharedMemory(t *testing.T) {
	t.Parallel()
	r := newBareRig(t, "a", "b")
	r.startAgentWith(t, "a", 2, jobenv.TestFrames+"=1")
	r.startAgentWith(t, "b", 2, jobenv.TestFrames+"=1")
	base := []string{"-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2"}

	stdout, stderr, code := r.launch(t, append(base, "/usr/bin/env")...)
	if code != 0 || strings.Count(stdout, jobenv.Shm+"=3\n") != 4 {
		t.Fatalf("not every rank got its host's shared memory (%s=3): status %d\nstdout:\n%s\nstderr:\n%s", jobenv.Shm, code, stdout, stderr)
	}

	for _, tc := range []struct {
		mapBy     string
		placement []int
	}{{"slot", []int{0, 0, 1, 1}}, {"node", []int{0, 1, 0, 1}}} {
		t.Run("frames/"+tc.mapBy, func(t *testing.T) {
			var sent [2][][]uint64
			for i, n := range []string{"2", "12"} {
				stdout, stderr, code := r.launch(t, append(base, "--map-by", tc.mapBy, bin("collectives"), "rounds", n)...)
				if code != 0 || strings.Count(stdout, " ok rounds ") != 4 {
					t.Fatalf("rounds %s: status %d\nstdout:\n%s\nstderr:\n%s", n, code, stdout, stderr)
				}
				sent[i] = sentFrames(t, stderr, 4)
			}
			checkHostFrames(t, tc.placement, sent[0], sent[1])
			t.Logf("frames sent (rank: to each rank), 2 rounds %v, 12 rounds %v", sent[0], sent[1])
		})
	}

	t.Run("suite", func(t *testing.T) {
		stdout, stderr, code := r.launch(t, append(base, bin("collectives"))...)
		expectCollectives(t, 4, result{stdout: stdout, stderr: stderr, code: code, marker: newMarker()})
	})

	t.Run("deadlock", func(t *testing.T) {
		_, stderr, code := r.launch(t, append(base, bin("behave"), "-mode", "collective-deadlock")...)
		want := "gorun: deadlock: every rank is blocked: rank 0 in AllreduceSlice in shared memory; rank 1 in Recv(source 0, tag 5); " +
			"rank 2 in AllreduceSlice in shared memory; rank 3 in Recv(source 0, tag 5)"
		if code != 1 || !strings.Contains(stderr, want) {
			t.Fatalf("status %d (want 1), stderr without %q:\n%s", code, want, stderr)
		}
		r.noRankLeft(t, 5*time.Second)
	})

	t.Run("exit while waiting", func(t *testing.T) {
		start := time.Now()
		_, stderr, code := r.launch(t, append(base, bin("behave"), "-mode", "die-in-collective", "-rank", "1", "-code", "3")...)
		took := time.Since(start)
		if code != 3 || !strings.Contains(stderr, "gorun: rank 1 (pid ") || !strings.Contains(stderr, "on a) exited with status 3") {
			t.Fatalf("status %d (want 3), stderr:\n%s", code, stderr)
		}
		if took > 12*time.Second {
			t.Errorf("the job took %v to end", took)
		}
		r.noRankLeft(t, 5*time.Second)
	})
}
