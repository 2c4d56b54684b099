package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/tests/hostrig"
)

// The multi-host tests run real agents in network namespaces ("hosts")
// joined through a NATS server in a namespace of its own; the launcher runs
// on a host of its own, and the test programs (binDir) are hidden from the
// agents, so they reach them only by gorun's program shipping.

var (
	rigToolsOnce sync.Once
	rigTools     string // gorun and natsd, visible on every host
	rigToolsErr  error
)

// rigBinaries builds natsd and copies gorun into a directory the agents
// see (binDir is hidden from them).
func rigBinaries(t *testing.T) (gorun, natsd string) {
	t.Helper()
	rigToolsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gorun-rig-")
		if err != nil {
			rigToolsErr = err
			return
		}
		rigTools = dir
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "natsd"), "./hostrig/natsd").CombinedOutput(); err != nil {
			rigToolsErr = err
			t.Logf("%s", out)
			return
		}
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "gorun"), "../cmd/gorun").CombinedOutput(); err != nil {
			rigToolsErr = err
			t.Logf("%s", out)
		}
	})
	if rigToolsErr != nil {
		t.Fatalf("building the rig's tools: %v", rigToolsErr)
	}
	return filepath.Join(rigTools, "gorun"), filepath.Join(rigTools, "natsd")
}

// hostsRig is a rig with a NATS server, running agents and a launcher host.
type hostsRig struct {
	*hostrig.Rig
	gorun  string
	marker string // in every agent's environment, so in every rank's
	agents map[string]*hostrig.Proc
	caches map[string]string
}

// newHostsRig starts a rig whose agents are named by slots' keys, each
// with that many slots, and a host "launcher".
func newHostsRig(t *testing.T, slots map[string]int) *hostsRig {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-host rig skipped in -short mode")
	}
	if err := hostrig.Available(); err != nil {
		t.Skipf("multi-host rig unavailable: %v", err)
	}
	gorun, natsd := rigBinaries(t)
	names := []string{"launcher"}
	for name := range slots {
		names = append(names, name)
	}
	r := &hostsRig{Rig: hostrig.New(t, names...), gorun: gorun, marker: newMarker(),
		agents: map[string]*hostrig.Proc{}, caches: map[string]string{}}
	r.StartNATS(t, natsd)
	for name, n := range slots {
		r.startAgent(t, name, n)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for name, a := range r.agents {
				t.Logf("agent %s log:\n%s", name, a.Output())
			}
		}
	})
	return r
}

// startAgent starts (or restarts) the agent of host name.
func (r *hostsRig) startAgent(t *testing.T, name string, slots int) *hostrig.Proc {
	t.Helper()
	if r.caches[name] == "" {
		r.Hide(name, binDir)
		r.caches[name] = t.TempDir()
	}
	a := r.Start(t, name, []string{"GORUN_TEST_MARKER=" + r.marker}, r.gorun, "agent", "--nats", r.URL(),
		"--name", name, "--slots", itoa(slots), "--cache", r.caches[name])
	if !a.WaitFor("serving", 20*time.Second) {
		t.Fatalf("agent %s did not start:\n%s", name, a.Output())
	}
	r.agents[name] = a
	return a
}

// launch runs gorun on the launcher host with args, to its end.
func (r *hostsRig) launch(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	p := r.Start(t, "launcher", nil, r.gorun, args...)
	if !p.Wait(waitLimit) {
		p.Kill()
		t.Fatalf("gorun %s still running after %v:\n%s", strings.Join(args, " "), waitLimit, p.Output())
	}
	return p.Stdout(), p.Stderr(), p.ExitCode()
}

// ranksLeft lists the processes of ranks (not agents) still alive.
func (r *hostsRig) ranksLeft() []string {
	agentPids := map[string]bool{}
	for _, a := range r.agents {
		agentPids[itoa(a.Pid())] = true
	}
	var left []string
	for _, pid := range processesWith("GORUN_TEST_MARKER=" + r.marker) {
		if !agentPids[pid] {
			left = append(left, pid)
		}
	}
	return left
}

// noRankLeft fails unless every rank is gone within limit.
func (r *hostsRig) noRankLeft(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		left := r.ranksLeft()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ranks still running %v after the job ended: %v", limit, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestMultihostSuites runs the point-to-point and collective suites and
// examples/haversine with ranks on two agents, the programs existing only
// on the launcher's host.
func TestMultihostSuites(t *testing.T) {
	r := newHostsRig(t, map[string]int{"a": 2, "b": 2})
	if out, _ := r.Run(t, "a", 10*time.Second, "ls", binDir); strings.Contains(out, "p2p") {
		t.Fatalf("the test programs are visible on agent host a:\n%s", out)
	}
	url := r.URL()
	stdout, stderr, code := r.launch(t, "-np", "4", "--nats", url, "--hosts", "a:2,b:2", bin("p2p"))
	if !strings.Contains(stderr, "gorun: ranks 0-1 on a, ranks 2-3 on b") {
		t.Errorf("no placement summary line:\n%s", stderr)
	}
	expectPointToPoint(t, 4, result{stdout: stdout, stderr: stderr, code: code, marker: newMarker()})

	stdout, stderr, code = r.launch(t, "-np", "4", "--nats", url, "--hosts", "a:2,b:2", "--map-by", "node", bin("collectives"))
	if !strings.Contains(stderr, "gorun: ranks 0,2 on a, ranks 1,3 on b") {
		t.Errorf("--map-by node: no or wrong placement summary line:\n%s", stderr)
	}
	expectCollectives(t, 4, result{stdout: stdout, stderr: stderr, code: code, marker: newMarker()})

	stdout, stderr, code = r.launch(t, "-np", "4", "--nats", url, "--hosts", "auto", "../examples/haversine", "-n", "20000")
	if code != 0 || !strings.Contains(stdout, "requests=20000 ranks=4") {
		t.Errorf("haversine across hosts: status %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	r.noRankLeft(t, 5*time.Second)
}
