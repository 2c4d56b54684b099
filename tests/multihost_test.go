package tests

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/internal/gorunner"
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
func rigBinaries(t testing.TB) (gorun, natsd string) {
	t.Helper()
	rigToolsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gorun-rig-")
		if err != nil {
			rigToolsErr = err
			return
		}
		rigTools = dir
		if out, err := gorunner.BuildCommand("-o", filepath.Join(dir, "natsd"), "./hostrig/natsd").CombinedOutput(); err != nil {
			rigToolsErr = err
			t.Logf("%s", out)
			return
		}
		args := []string{"-o", filepath.Join(dir, "gorun")}
		if os.Getenv("GORUN_RIG_RACE") == "1" {
			args = append(args, "-race") // the launcher and agents under the race detector
		}
		if out, err := gorunner.BuildCommand(append(args, "../cmd/gorun")...).CombinedOutput(); err != nil {
			rigToolsErr = err
			t.Logf("%s", out)
			return
		}
		// Beside gorun, where gorun agent --serve finds it.
		if out, err := gorunner.BuildCommand("-o", filepath.Join(dir, "gorun-natsd"), "../cmd/gorun-natsd").CombinedOutput(); err != nil {
			rigToolsErr = err
			t.Logf("%s", out)
		}
	})
	if rigToolsErr != nil {
		t.Fatalf("building the rig's tools: %v", rigToolsErr)
	}
	return filepath.Join(rigTools, "gorun"), filepath.Join(rigTools, "natsd")
}

// rigTool builds the Go package pkg into the rig's tools directory (seen
// by every host) and returns its path.
func rigTool(t testing.TB, name, pkg string) string {
	t.Helper()
	rigBinaries(t)
	path := filepath.Join(rigTools, name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if out, err := gorunner.BuildCommand("-o", path, pkg).CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, out)
	}
	return path
}

// hostsRig is a rig with a NATS server, running agents and a launcher host.
type hostsRig struct {
	*hostrig.Rig
	gorun  string
	marker string // in every agent's environment, so in every rank's
	agents map[string]*hostrig.Proc
	nats   *hostrig.Proc // the rig's NATS server
	caches map[string]string
	tmp    string // every process's TMPDIR
}

// newHostsRig starts a rig whose agents are named by slots' keys, each
// with that many slots, and a host "launcher".
func newHostsRig(t testing.TB, slots map[string]int) *hostsRig {
	t.Helper()
	var names []string
	for name := range slots {
		names = append(names, name)
	}
	r := newBareRig(t, names...)
	for name, n := range slots {
		r.startAgent(t, name, n)
	}
	return r
}

// newBareRig makes the hosts (and "launcher") and starts the NATS server,
// but no agent.
func newBareRig(t testing.TB, hosts ...string) *hostsRig {
	t.Helper()
	return newBareRigWith(t, nil, hosts...)
}

// newBareRigWith is newBareRig with extra natsd flags.
func newBareRigWith(t testing.TB, natsFlags []string, hosts ...string) *hostsRig {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-host rig skipped in -short mode")
	}
	if err := hostrig.Available(); err != nil {
		t.Skipf("multi-host rig unavailable: %v", err)
	}
	gorun, natsd := rigBinaries(t)
	// The temporary directory of every gorun and agent the rig starts:
	// what a killed one leaves goes with the rig. Removed after the rig's
	// own cleanup (registered later, so run first) has ended them.
	tmp, err := os.MkdirTemp("", "gt-") // short: the jobs' sockets go in it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	names := append([]string{"launcher"}, hosts...)
	r := &hostsRig{Rig: hostrig.New(t, names...), gorun: gorun, marker: newMarker(),
		agents: map[string]*hostrig.Proc{}, caches: map[string]string{}, tmp: tmp}
	r.Setenv("TMPDIR=" + tmp)
	r.nats = r.StartNATS(t, natsd, natsFlags...)
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
func (r *hostsRig) startAgent(t testing.TB, name string, slots int) *hostrig.Proc {
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
func (r *hostsRig) launch(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	p := r.Start(t, "launcher", nil, r.gorun, args...)
	if !p.Wait(waitLimit) {
		p.Kill()
		t.Fatalf("gorun %s still running after %v:\n%s", strings.Join(args, " "), waitLimit, p.Output())
	}
	return p.Stdout(), p.Stderr(), p.ExitCode()
}

// ranksLeft lists the processes of ranks still alive: not agents, nor the
// NATS server (gorun-natsd) an agent --serve runs.
func (r *hostsRig) ranksLeft() []string {
	agentPids := map[string]bool{}
	for _, a := range r.agents {
		agentPids[itoa(a.Pid())] = true
	}
	var left []string
	for _, pid := range processesWith("GORUN_TEST_MARKER=" + r.marker) {
		if !agentPids[pid] && !(agentPids[parentPid(pid)] && processName(pid) == "gorun-natsd") {
			left = append(left, pid)
		}
	}
	return left
}

// noRankLeft fails unless every rank is gone within limit.
func (r *hostsRig) noRankLeft(t testing.TB, limit time.Duration) {
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

// totalKm is the total_km examples/haversine printed.
func totalKm(t *testing.T, stdout string) float64 {
	t.Helper()
	_, rest, ok := strings.Cut(stdout, "total_km=")
	if !ok {
		t.Fatalf("no total_km in:\n%s", stdout)
	}
	km, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
	if err != nil {
		t.Fatalf("total_km: %v", err)
	}
	return km
}

// TestMultihostSuites runs the point-to-point and collective suites and
// examples/haversine with ranks on two agents, the programs existing only
// on the launcher's host.
func TestMultihostSuites(t *testing.T) {
	t.Parallel()
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

	stdout, stderr, code = r.launch(t, "-np", "4", "--nats", url, "--hosts", "a:2,b:2", "--map-by", "node", bin("collectives"), "largest", fmt.Sprint(reducedLargest))
	if !strings.Contains(stderr, "gorun: ranks 0,2 on a, ranks 1,3 on b") {
		t.Errorf("--map-by node: no or wrong placement summary line:\n%s", stderr)
	}
	expectCollectives(t, 4, result{stdout: stdout, stderr: stderr, code: code, marker: newMarker()})

	stdout, stderr, code = r.launch(t, "-np", "4", "--nats", url, "--hosts", "auto", "../examples/haversine", "-n", "20000")
	if code != 0 || !strings.Contains(stdout, "requests=20000 ranks=4") {
		t.Errorf("haversine across hosts: status %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// The task farm (farm.RunSeq) across hosts: the same total, the work
	// answered by workers on both hosts' ranks.
	farmOut, stderr, code := r.launch(t, "-np", "4", "--nats", url, "--hosts", "a:2,b:2", "../examples/haversine", "-n", "20000", "-dynamic", "-chunk", "500")
	if code != 0 || !strings.Contains(farmOut, "requests=20000 ranks=4") {
		t.Errorf("haversine -dynamic across hosts: status %d\nstdout:\n%s\nstderr:\n%s", code, farmOut, stderr)
	} else if static, farmed := totalKm(t, stdout), totalKm(t, farmOut); math.Abs(static-farmed) > 1e-9*static {
		t.Errorf("haversine across hosts: the farm's total %v, the static split's %v", farmed, static)
	}
	if !strings.Contains(farmOut, "rank 2 answered") && !strings.Contains(farmOut, "rank 3 answered") {
		t.Errorf("haversine -dynamic across hosts: no rank on host b answered:\n%s", farmOut)
	}
	r.noRankLeft(t, 5*time.Second)
}

// TestMultihostRankFailures: a rank failing on an agent ends the job
// everywhere with the usual line plus its host; deadlock detection,
// Abort, --timeout and stdin work across hosts.
func TestMultihostRankFailures(t *testing.T) {
	t.Parallel()
	r := newHostsRig(t, map[string]int{"a": 2, "b": 2})
	base := []string{"-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2"}
	cases := []struct {
		name   string
		args   []string
		code   int
		line   string
		within time.Duration
	}{
		{"exit", []string{"-mode", "exit", "-rank", "3", "-code", "5"}, 5, "gorun: rank 3 (pid ", 2 * time.Second},
		{"signal", []string{"-mode", "signal", "-rank", "1"}, 137, "on a) killed by signal SIGKILL", 2 * time.Second},
		{"abort", []string{"-mode", "abort", "-rank", "2", "-code", "7"}, 7, "on b) called mpi.Abort(7): the input is wrong", 2 * time.Second},
		{"deadlock", []string{"-mode", "deadlock"}, 1, "gorun: deadlock: every rank is blocked: rank 0 in Recv(source 1, tag 5)", 5 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, stderr, code := r.launch(t, append(append(base, bin("behave")), c.args...)...)
			took := time.Since(start)
			if code != c.code || !strings.Contains(stderr, c.line) {
				t.Fatalf("status %d (want %d), stderr without %q:\n%s", code, c.code, c.line, stderr)
			}
			// The job starts in about a second; the failure must end it
			// within c.within of that (the other ranks sleep a minute).
			if took > c.within+10*time.Second {
				t.Errorf("the job took %v to end", took)
			}
			r.noRankLeft(t, 5*time.Second)
		})
	}
	t.Run("timeout", func(t *testing.T) {
		_, stderr, code := r.launch(t, append(append(base, "--timeout", "2s", bin("behave")), "-mode", "sleep")...)
		if code != 124 || !strings.Contains(stderr, "rank 3 (pid ") || !strings.Contains(stderr, "on b) was running") {
			t.Fatalf("status %d, stderr:\n%s", code, stderr)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		p := r.Start(t, "launcher", nil, "sh", "-c", `printf 'x\ny\n' | "$0" "$@"`, r.gorun, "-np", "4", "--nats", r.URL(),
			"--hosts", "b:2,a:2", bin("behave"), "-mode", "stdin")
		if !p.Wait(waitLimit) || p.ExitCode() != 0 {
			t.Fatalf("status %d:\n%s", p.ExitCode(), p.Output())
		}
		for _, want := range []string{"rank 0 read \"x\"\n", "rank 0 read 2 lines\n", "rank 3 read 0 lines\n"} {
			if !strings.Contains(p.Stdout(), want) {
				t.Errorf("stdout lacks %q:\n%s", want, p.Stdout())
			}
		}
	})
}

// upAndRunning starts a job of sleeping ranks on a:2,b:2 and waits until
// every rank runs.
func (r *hostsRig) upAndRunning(t *testing.T) *hostrig.Proc {
	t.Helper()
	p := r.Start(t, "launcher", nil, r.gorun, "-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", bin("behave"), "-mode", "sleep")
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(p.Stderr(), "pid ") < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the job did not come up:\n%s", p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// jobDirsOf lists the job directories (gorun-N) in dir whose mark names
// the process pid.
func jobDirsOf(t testing.TB, dir string, pid int) []string {
	t.Helper()
	marks, err := filepath.Glob(filepath.Join(dir, "gorun-*", "gorun.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, m := range marks {
		b, err := os.ReadFile(m)
		if first, _, _ := strings.Cut(string(b), "\n"); err == nil && first == itoa(pid) {
			dirs = append(dirs, filepath.Dir(m))
		}
	}
	return dirs
}

// TestMultihostHostFailures: an agent killed, the launcher killed, the
// launcher interrupted, a host cut off the network: the job ends on every
// side within 5 s and no rank survives.
func TestMultihostHostFailures(t *testing.T) {
	t.Parallel()
	r := newBareRig(t, "a", "b", "c")
	r.startAgent(t, "a", 2)
	r.startAgent(t, "b", 2)
	t.Run("agent-killed", func(t *testing.T) {
		p := r.upAndRunning(t)
		killed := r.agents["b"].Pid()
		r.agents["b"].Kill()
		start := time.Now()
		if !p.Wait(5 * time.Second) {
			t.Fatalf("the launcher still runs 5 s after agent b died:\n%s", p.Output())
		}
		if p.ExitCode() == 0 || !strings.Contains(p.Stderr(), "gorun: lost agent b (ranks 2-3, through NATS server "+r.URL()+"): no heartbeat for 3s") {
			t.Fatalf("status %d after %v; stderr:\n%s", p.ExitCode(), time.Since(start), p.Stderr())
		}
		r.noRankLeft(t, 5*time.Second)
		// Its job's directory stays (nothing could remove it) until the
		// next agent or gorun on the host finds its mark naming a
		// process that is gone.
		if left := jobDirsOf(t, r.tmp, killed); len(left) != 1 {
			t.Errorf("agent b, killed in a job, left job directories %v, want one", left)
		}
		r.startAgent(t, "b", 2)
		if left := jobDirsOf(t, r.tmp, killed); len(left) > 0 {
			t.Errorf("agent b's new start left %v of the killed agent's", left)
		}
	})
	t.Run("launcher-killed", func(t *testing.T) {
		p := r.upAndRunning(t)
		p.Kill()
		r.noRankLeft(t, 5*time.Second)
		if !r.agents["a"].WaitFor("no heartbeat from its launcher", 5*time.Second) {
			t.Errorf("agent a does not say why it ended the job:\n%s", r.agents["a"].Output())
		}
	})
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			p := r.upAndRunning(t)
			p.Signal(sig)
			if !p.Wait(2 * time.Second) {
				t.Fatalf("the launcher still runs 2 s after %v:\n%s", sig, p.Output())
			}
			if p.ExitCode() != 128+int(sig) {
				t.Errorf("status %d, want %d:\n%s", p.ExitCode(), 128+int(sig), p.Output())
			}
			r.noRankLeft(t, 2*time.Second)
		})
	}
	t.Run("partition", func(t *testing.T) {
		p := r.upAndRunning(t)
		r.LinkDown(t, "b")
		if !p.Wait(5 * time.Second) {
			t.Fatalf("the launcher still runs 5 s after host b was cut off:\n%s", p.Output())
		}
		if p.ExitCode() == 0 || !strings.Contains(p.Stderr(), "gorun: lost agent b (ranks 2-3, through NATS server "+r.URL()+"): no heartbeat for 3s") {
			t.Fatalf("status %d; stderr:\n%s", p.ExitCode(), p.Stderr())
		}
		r.noRankLeft(t, 5*time.Second)
		// Once it has seen its connection go (pings unanswered), and back
		// on the network, the agent rejoins and runs jobs again.
		if !r.agents["b"].WaitFor("lost the NATS server", 15*time.Second) {
			t.Fatalf("agent b did not notice it was cut off:\n%s", r.agents["b"].Output())
		}
		r.LinkUp(t, "b")
		if !r.agents["b"].WaitFor("reconnected to", 30*time.Second) {
			t.Fatalf("agent b did not reconnect:\n%s", r.agents["b"].Output())
		}
		stdout, stderr, code := r.launch(t, "-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", bin("behave"), "-mode", "hello")
		if code != 0 || strings.Count(stdout, "hello from") != 4 {
			t.Fatalf("a job after agent b rejoined: status %d:\n%s", code, stderr)
		}
	})
	t.Run("launcher-partitioned", func(t *testing.T) {
		r.startAgent(t, "c", 2)
		p := r.Start(t, "launcher", nil, r.gorun, "-np", "4", "--nats", r.URL(), "--hosts", "a:2,c:2", bin("behave"), "-mode", "sleep")
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(p.Stderr(), "pid ") < 4 {
			if time.Now().After(deadline) {
				t.Fatalf("the job did not come up:\n%s", p.Output())
			}
			time.Sleep(20 * time.Millisecond)
		}
		r.LinkDown(t, "launcher")
		if !p.Wait(5 * time.Second) {
			t.Fatalf("the launcher still runs 5 s after it was cut off:\n%s", p.Output())
		}
		if p.ExitCode() == 0 || !strings.Contains(p.Stderr(), "gorun: lost agent") {
			t.Fatalf("status %d; stderr:\n%s", p.ExitCode(), p.Stderr())
		}
		r.noRankLeft(t, 5*time.Second)
	})
}

// TestMultihostShipping: the program reaches each agent once (a warm cache
// ships nothing), a corrupted cached copy is detected and replaced, and a
// binary for another architecture is refused before anything starts.
func TestMultihostShipping(t *testing.T) {
	t.Parallel()
	r := newHostsRig(t, map[string]int{"a": 2, "b": 2})
	run := func() {
		t.Helper()
		stdout, stderr, code := r.launch(t, "-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", bin("behave"), "-mode", "hello")
		if code != 0 || strings.Count(stdout, "hello from rank") != 4 {
			t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	}
	received := func(agent string) int { return strings.Count(r.agents[agent].Output(), "received program") }
	run()
	run()
	for _, name := range []string{"a", "b"} {
		if n := received(name); n != 1 {
			t.Errorf("agent %s received the program %d times in two jobs, want once:\n%s", name, n, r.agents[name].Output())
		}
	}

	t.Run("corrupted-cache", func(t *testing.T) {
		cached, _ := filepath.Glob(filepath.Join(r.caches["a"], "*"))
		if len(cached) != 1 {
			t.Fatalf("agent a's cache holds %v, want one program", cached)
		}
		if err := os.WriteFile(cached[0], []byte("#!/bin/sh\necho not the program\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		run()
		if !strings.Contains(r.agents["a"].Output(), "is corrupt") || received("a") != 2 {
			t.Errorf("agent a did not notice its corrupt copy and fetch the program again:\n%s", r.agents["a"].Output())
		}
		if received("b") != 1 {
			t.Errorf("agent b fetched again although its copy is sound:\n%s", r.agents["b"].Output())
		}
	})

	t.Run("arm64", func(t *testing.T) {
		dir := t.TempDir() // on the launcher's host only: agents see it, but get nothing from it
		arm := filepath.Join(dir, "behave-arm64")
		build := exec.Command("go", "build", "-o", arm, "./progs/behave")
		build.Env = append(os.Environ(), "GOARCH=arm64", "GOOS=linux")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building for arm64: %v\n%s", err, out)
		}
		_, stderr, code := r.launch(t, "-np", "2", "--nats", r.URL(), "--hosts", "a:1,b:1", arm)
		want := "built for linux/arm64, which a, b cannot run (agents: a linux/amd64"
		if code != 126 || !strings.Contains(stderr, want) {
			t.Fatalf("status %d (want 126), stderr without %q:\n%s", code, want, stderr)
		}
		if strings.Contains(stderr, " on a") || received("a") != 2 {
			t.Errorf("something was placed or shipped:\n%s", stderr)
		}
	})
}

// TestMultihostPlacement: slots are reserved before anything starts, two
// launchers never oversubscribe an agent unless asked, too few slots is an
// error naming what was asked and what is free, --hosts auto and
// --hostfile fill the agents' slots.
func TestMultihostPlacement(t *testing.T) {
	t.Parallel()
	r := newHostsRig(t, map[string]int{"a": 2, "b": 2})
	url := r.URL()
	_, stderr, code := r.launch(t, "-np", "5", "--nats", url, "--hosts", "a:2,b:2", bin("behave"), "-mode", "hello")
	if code != 1 || !strings.Contains(stderr, "5 ranks asked, 4 slots given (a:2, b:2)") {
		t.Errorf("np 5 on 4 slots: status %d, stderr:\n%s", code, stderr)
	}
	_, stderr, code = r.launch(t, "-np", "2", "--nats", url, "--hosts", "a:2,zz:2", bin("behave"), "-mode", "hello")
	if code != 1 || !strings.Contains(stderr, "no agent named zz answers at "+url) {
		t.Errorf("unknown agent: status %d, stderr:\n%s", code, stderr)
	}

	busy := r.Start(t, "launcher", nil, r.gorun, "-np", "2", "--nats", url, "--hosts", "a:2", bin("behave"), "-mode", "sleep")
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(busy.Stderr(), "pid ") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_, stderr, code = r.launch(t, "-np", "2", "--nats", url, "--hosts", "a:1,b:1", bin("behave"), "-mode", "hello")
	if code != 1 || !strings.Contains(stderr, "agent a has 0 free slots of 2; the job asks for 1") || strings.Contains(stderr, "pid ") {
		t.Errorf("a busy agent: status %d, stderr:\n%s", code, stderr)
	}
	stdout, stderr, code := r.launch(t, "-np", "2", "--nats", url, "--hosts", "auto", bin("behave"), "-mode", "hello")
	if code != 0 || !strings.Contains(stderr, "gorun: ranks 0-1 on b") || strings.Count(stdout, "hello from") != 2 {
		t.Errorf("--hosts auto with a busy: status %d, stderr:\n%s", code, stderr)
	}
	stdout, stderr, code = r.launch(t, "-np", "2", "--nats", url, "--hosts", "a:1", "--oversubscribe", bin("behave"), "-mode", "hello")
	if code != 0 || strings.Count(stdout, "hello from") != 2 {
		t.Errorf("--oversubscribe: status %d, stderr:\n%s", code, stderr)
	}
	busy.Signal(syscall.SIGTERM)
	busy.Wait(10 * time.Second)

	hostfile := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hostfile, []byte("# two agents\nb slots=1\na slots=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = r.launch(t, "-np", "3", "--nats", url, "--hostfile", hostfile, bin("behave"), "-mode", "hello")
	if code != 0 || !strings.Contains(stderr, "gorun: rank 0 on b, ranks 1-2 on a") || strings.Count(stdout, "hello from") != 3 {
		t.Errorf("--hostfile: status %d, stderr:\n%s", code, stderr)
	}
	r.noRankLeft(t, 5*time.Second)
}

// TestMultihostServeAndCredentials: "gorun agent --serve" embeds the NATS
// server and prints how to join; agents with the cluster's secret run only
// launches signed with it, and wrong credentials fail within 5 s.
func TestMultihostServeAndCredentials(t *testing.T) {
	t.Parallel()
	r := newBareRig(t, "a", "b")
	a := r.Start(t, "a", []string{"GORUN_TEST_MARKER=" + r.marker}, r.gorun, "agent", "--serve", "0.0.0.0:4333",
		"--name", "a", "--slots", "2", "--cache", t.TempDir())
	if !a.WaitFor("serving", 20*time.Second) {
		t.Fatalf("agent --serve did not start:\n%s", a.Output())
	}
	r.agents["a"] = a
	join := regexp.MustCompile(`GORUN_CLUSTER_SECRET=(\w+) gorun agent --nats '([^']+)'`).FindStringSubmatch(a.Output())
	if join == nil || !strings.Contains(join[2], "@10.77.0.") {
		t.Fatalf("agent --serve does not print a join command with its address:\n%s", a.Output())
	}
	secret, url := "GORUN_CLUSTER_SECRET="+join[1], join[2]
	b := r.Start(t, "b", []string{secret, "GORUN_TEST_MARKER=" + r.marker}, r.gorun, "agent", "--nats", url,
		"--name", "b", "--slots", "2", "--cache", t.TempDir())
	if !b.WaitFor("serving", 20*time.Second) {
		t.Fatalf("agent b could not join with the printed command:\n%s", b.Output())
	}
	r.agents["b"] = b

	launch := func(env []string, url string) (*hostrig.Proc, time.Duration) {
		start := time.Now()
		p := r.Start(t, "launcher", env, r.gorun, "-np", "4", "--nats", url, "--hosts", "auto", bin("behave"), "-mode", "hello")
		if !p.Wait(waitLimit) {
			t.Fatalf("gorun still runs:\n%s", p.Output())
		}
		return p, time.Since(start)
	}
	p, _ := launch([]string{secret}, url)
	if p.ExitCode() != 0 || strings.Count(p.Stdout(), "hello from") != 4 || !strings.Contains(p.Stderr(), "ranks 0-1 on a, ranks 2-3 on b") {
		t.Fatalf("the walkthrough's launch failed: status %d\n%s", p.ExitCode(), p.Output())
	}
	// A program that is not a Go binary ships too; ranks see the
	// placement, not the agents' secret.
	env := r.Start(t, "launcher", []string{secret}, r.gorun, "-np", "2", "--nats", url, "--hosts", "a:1,b:1", "/usr/bin/env")
	if !env.Wait(waitLimit) || env.ExitCode() != 0 {
		t.Fatalf("env on two hosts: status %d\n%s", env.ExitCode(), env.Output())
	}
	if strings.Count(env.Stdout(), "GORUN_PLACEMENT=0,1\n") != 2 || strings.Contains(env.Stdout(), "GORUN_CLUSTER_SECRET") {
		t.Errorf("the ranks' environment lacks the placement or holds the cluster secret:\n%s", env.Stdout())
	}
	for _, c := range []struct {
		name string
		env  []string
		url  string
		want string
	}{
		{"no-secret", nil, url, "agent a refuses: request not signed with the cluster's secret: the launcher sent no signature"},
		{"wrong-secret", []string{"GORUN_CLUSTER_SECRET=guess"}, url, "agent a refuses: request not signed with the cluster's secret: wrong signature"},
		{"wrong-password", []string{secret}, regexp.MustCompile(`:[0-9a-f]+@`).ReplaceAllString(url, ":guess@"), "authorization violation"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, took := launch(c.env, c.url)
			if p.ExitCode() == 0 || !strings.Contains(strings.ToLower(p.Stderr()), strings.ToLower(c.want)) || strings.Contains(p.Stdout(), "hello") {
				t.Fatalf("status %d, stderr without %q:\n%s", p.ExitCode(), c.want, p.Output())
			}
			if took > 5*time.Second {
				t.Errorf("refusal took %v", took)
			}
		})
	}
	r.noRankLeft(t, 5*time.Second)

	// The server runs in a process of its own (gorun-natsd): killing the
	// agent that serves it ends it too.
	served := childNamed(a.Pid(), "gorun-natsd")
	if served == "" {
		t.Fatal("agent --serve runs no gorun-natsd")
	}
	a.Signal(syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for slices.Contains(processesWith("GORUN_TEST_MARKER="+r.marker), served) {
		if time.Now().After(deadline) {
			t.Fatalf("gorun-natsd (pid %s) still runs 5 s after its agent was killed", served)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMultihostNATSCluster runs the suites with the launcher and each
// agent connected to a different server of a 3-server NATS cluster
// (routes), then loses one server mid-job: the job fails within 10 s,
// naming it, and no rank survives.
func TestMultihostNATSCluster(t *testing.T) {
	t.Parallel()
	r := newBareRig(t, "a", "b")
	_, natsd := rigBinaries(t)
	servers, urls := r.StartNATSCluster(t, natsd, 3)
	for i, name := range []string{"a", "b"} {
		a := r.Start(t, name, []string{"GORUN_TEST_MARKER=" + r.marker}, r.gorun, "agent", "--nats", urls[i+1],
			"--name", name, "--slots", "2", "--cache", t.TempDir())
		if !a.WaitFor("serving", 20*time.Second) {
			t.Fatalf("agent %s did not start:\n%s", name, a.Output())
		}
		r.agents[name] = a
	}
	stdout, stderr, code := r.launch(t, "-np", "4", "--nats", urls[0], "--hosts", "a:2,b:2", bin("p2p"))
	expectPointToPoint(t, 4, result{stdout: stdout, stderr: stderr, code: code, marker: newMarker()})
	stdout, stderr, code = r.launch(t, "-np", "4", "--nats", urls[0], "--hosts", "a:2,b:2", "--map-by", "node", bin("collectives"), "largest", fmt.Sprint(reducedLargest))
	expectCollectives(t, 4, result{stdout: stdout, stderr: stderr, code: code, marker: newMarker()})

	p := r.Start(t, "launcher", nil, r.gorun, "-np", "4", "--nats", urls[0], "--hosts", "a:2,b:2", bin("behave"), "-mode", "sleep")
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(p.Stderr(), "pid ") < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the job did not come up:\n%s", p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	servers[2].Kill() // agent b's
	if !p.Wait(10 * time.Second) {
		t.Fatalf("the launcher still runs 10 s after agent b's server died:\n%s", p.Output())
	}
	if want := "gorun: lost agent b (ranks 2-3, through NATS server " + urls[2] + ")"; p.ExitCode() == 0 || !strings.Contains(p.Stderr(), want) {
		t.Fatalf("status %d, stderr without %q:\n%s", p.ExitCode(), want, p.Stderr())
	}
	r.noRankLeft(t, 5*time.Second)
}

// TestMultihostMixedPlatforms: a Go package is built once per platform
// among the chosen agents. Agent b runs 386 programs (an amd64 kernel runs
// them): its ranks run a 386 build, a's an amd64 one, in one job.
func TestMultihostMixedPlatforms(t *testing.T) {
	t.Parallel()
	if err := run386(t); errors.Is(err, syscall.ENOEXEC) {
		// A kernel without 32-bit support (some paravirtualized guests).
		t.Skipf("this machine cannot run linux/386 programs: %v", err)
	}
	warmBuilds(t, "../examples/hello", "386")
	r := newBareRig(t, "a", "b")
	for name, arch := range map[string]string{"a": "amd64", "b": "386"} {
		a := r.Start(t, name, []string{"GORUN_TEST_MARKER=" + r.marker}, r.gorun, "agent", "--nats", r.URL(),
			"--name", name, "--slots", "2", "--goarch", arch, "--cache", t.TempDir())
		if !a.WaitFor("serving", 20*time.Second) {
			t.Fatalf("agent %s did not start:\n%s", name, a.Output())
		}
		r.agents[name] = a
	}
	stdout, stderr, code := r.launch(t, "-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", "../examples/hello")
	if code != 0 || strings.Count(stdout, "hello from rank") != 4 || !strings.Contains(stdout, "heard from 4 ranks") {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	digest := regexp.MustCompile(`received program (\w+)`)
	da, db := digest.FindStringSubmatch(r.agents["a"].Output()), digest.FindStringSubmatch(r.agents["b"].Output())
	if da == nil || db == nil || da[1] == db[1] {
		t.Errorf("agents a (amd64) and b (386) did not receive two different builds:\n%s\n%s", r.agents["a"].Output(), r.agents["b"].Output())
	}
	r.noRankLeft(t, 5*time.Second)
}

// run386 builds a linux/386 program that imports nothing and runs it: a
// kernel without 32-bit support refuses it with ENOEXEC, found before the
// multi-platform test builds every dependency of a real program for 386
// (most of its time when it is skipped).
func run386(t *testing.T) error {
	t.Helper()
	dir := t.TempDir()
	src, out := filepath.Join(dir, "main.go"), filepath.Join(dir, "prog386")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", out, src)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "GOOS=linux", "GOARCH=386", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of an empty linux/386 program: %v\n%s", err, msg)
	}
	return exec.Command(out).Run()
}

// warmBuilds builds pkg as gorun builds it for each platform goarchs
// names (linux, no cgo) and for this one (with pure Go's resolver), under
// the test's own deadline only, and returns the executables by GOARCH
// ("" for this platform's): with Go's build cache cold for a platform, as
// in CI before its cross-builds, gorun's build compiles every dependency
// of the package (over 90 s for linux/386 beside two CPU hogs on a 2-core
// VM), which is not what a job's time limit is for.
func warmBuilds(t *testing.T, pkg string, goarchs ...string) map[string]string {
	t.Helper()
	built := map[string]string{}
	dir := t.TempDir()
	for _, arch := range append([]string{""}, goarchs...) {
		out := filepath.Join(dir, "prog"+arch)
		args, env := []string{"build", "-o", out}, []string{}
		if arch == "" {
			args = append(args, "-tags=netgo,osusergo")
		} else {
			env = append(env, "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
		}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Dir, cmd.Env = pkg, append(os.Environ(), env...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build of %s %v: %v\n%s", pkg, env, err, msg)
		}
		built[arch] = out
	}
	return built
}

// TestMultihostShippingJetStream: with JetStream on the server, the
// program goes through its object store, and the agents' warm caches
// fetch nothing for a second job.
func TestMultihostShippingJetStream(t *testing.T) {
	t.Parallel()
	r := newBareRigWith(t, []string{"-js", t.TempDir()}, "a", "b")
	r.startAgent(t, "a", 2)
	r.startAgent(t, "b", 2)
	for range 2 {
		stdout, stderr, code := r.launch(t, "-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", bin("behave"), "-mode", "hello")
		if code != 0 || strings.Count(stdout, "hello from rank") != 4 || strings.Contains(stderr, "shipping the program without it") {
			t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	}
	for _, name := range []string{"a", "b"} {
		log := r.agents[name].Output()
		if strings.Count(log, "received program") != 1 || !strings.Contains(log, "from JetStream object store gorun-programs") {
			t.Errorf("agent %s did not receive the program once, from the object store:\n%s", name, log)
		}
	}
}

// TestMultihostSameHostTrafficSkipsNATS: ranks on the same host talk
// through the local transport; a 1 MiB ping-pong between two ranks on
// one agent (512 MiB each way in all) must not cross the NATS server.
func TestMultihostSameHostTrafficSkipsNATS(t *testing.T) {
	t.Parallel()
	r := newHostsRig(t, map[string]int{"a": 2})
	dir := t.TempDir()
	build := gorunner.BuildCommand("-o", dir, ".")
	build.Dir = "../bench/pingpong" // a module of its own
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building pingpong: %v\n%s", err, out)
	}
	pingpong := func() {
		t.Helper()
		stdout, stderr, code := r.launch(t, "-np", "2", "--nats", r.URL(), "--hosts", "a:2", filepath.Join(dir, "pingpong"),
			"-min", "1048576", "-max", "1048576")
		if code != 0 || !strings.Contains(stdout, "1048576") {
			t.Fatalf("pingpong: status %d:\n%s\n%s", code, stdout, stderr)
		}
	}
	pingpong() // ships the program: the second job's traffic is the job's alone
	_, before := hostrig.NATSStats(t, r.nats)
	pingpong()
	_, after := hostrig.NATSStats(t, r.nats)
	if through := after - before; through > 1<<20 {
		t.Errorf("%d bytes crossed the NATS server for a job whose two ranks share a host (pingpong moved 512 MiB)", through)
	} else {
		t.Logf("%d bytes crossed the NATS server (launch, control relay, output, heartbeats)", through)
	}
}

// TestMultihostOutput: output crosses hosts in whole lines, tagged by
// rank: many lines from every rank, and 1 MiB lines (several messages
// each) that must arrive whole and unmixed.
func TestMultihostOutput(t *testing.T) {
	t.Parallel()
	r := newHostsRig(t, map[string]int{"a": 2, "b": 2})
	base := []string{"-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", "--tag-output", bin("behave")}
	stdout, stderr, code := r.launch(t, append(base, "-mode", "lines", "-n", "5000")...)
	if code != 0 {
		t.Fatalf("lines: status %d:\n%s", code, stderr)
	}
	checkRankLines(t, stdout, "[%d] ", 4, 5000)
	stdout, stderr, code = r.launch(t, append(base, "-mode", "longline")...)
	if code != 0 {
		t.Fatalf("longline: status %d:\n%s", code, stderr)
	}
	got := 0
	for _, l := range lines(stdout) {
		var rank int
		if _, err := fmt.Sscanf(l, "[%d]", &rank); err != nil {
			continue
		}
		if want := fmt.Sprintf("[%d] %d:%s", rank, rank, strings.Repeat(string(rune('a'+rank)), 1<<20)); l != want {
			t.Errorf("rank %d's 1 MiB line arrived torn or mixed (%d bytes)", rank, len(l))
		}
		got++
	}
	if got != 4 {
		t.Errorf("%d long lines arrived, want 4", got)
	}
}

// TestMultihostNATSClusterOthersFinish: two jobs at once in a 3-server
// cluster. Job X's agent b uses server s2; job Y's agents (c on s0, d on
// s1) and launcher (s0) never touch it. s2 dies: X fails within 10 s
// naming it, and Y, whose ranks still talk across hosts afterwards (rank
// 0 reads the launcher's stdin, then every rank finalizes), finishes with
// status 0 and all its output.
func TestMultihostNATSClusterOthersFinish(t *testing.T) {
	t.Parallel()
	r := newBareRig(t, "a", "b", "c", "d")
	_, natsd := rigBinaries(t)
	servers, urls := r.StartNATSCluster(t, natsd, 3)
	for name, server := range map[string]int{"a": 1, "b": 2, "c": 0, "d": 1} {
		a := r.Start(t, name, []string{"GORUN_TEST_MARKER=" + r.marker}, r.gorun, "agent", "--nats", urls[server],
			"--name", name, "--slots", "2", "--cache", t.TempDir())
		if !a.WaitFor("serving", 20*time.Second) {
			t.Fatalf("agent %s did not start:\n%s", name, a.Output())
		}
		r.agents[name] = a
	}
	up := func(p *hostrig.Proc) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(p.Stderr(), "pid ") < 4 {
			if time.Now().After(deadline) {
				t.Fatalf("the job did not come up:\n%s", p.Output())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	x := r.Start(t, "launcher", nil, r.gorun, "-np", "4", "--nats", urls[0], "--hosts", "a:2,b:2", bin("behave"), "-mode", "sleep")
	y, in := r.StartWithStdin(t, "launcher", nil, r.gorun, "-np", "4", "--nats", urls[0], "--hosts", "c:2,d:2", bin("behave"), "-mode", "stdin")
	up(x)
	up(y)
	servers[2].Kill() // agent b's
	if !x.Wait(10 * time.Second) {
		t.Fatalf("job X still runs 10 s after agent b's server died:\n%s", x.Output())
	}
	if want := "gorun: lost agent b (ranks 2-3, through NATS server " + urls[2] + ")"; x.ExitCode() == 0 || !strings.Contains(x.Stderr(), want) {
		t.Fatalf("job X: status %d, stderr without %q:\n%s", x.ExitCode(), want, x.Stderr())
	}
	select {
	case <-y.Done():
		t.Fatalf("job Y ended with job X (status %d):\n%s", y.ExitCode(), y.Output())
	default:
	}
	const n = 100
	for i := range n {
		fmt.Fprintf(in, "line %d\n", i)
	}
	in.Close()
	if !y.Wait(waitLimit) {
		t.Fatalf("job Y still runs after its stdin closed:\n%s", y.Output())
	}
	stdout := y.Stdout()
	if y.ExitCode() != 0 {
		t.Fatalf("job Y: status %d:\n%s", y.ExitCode(), y.Output())
	}
	for i := range n {
		if !strings.Contains(stdout, fmt.Sprintf("rank 0 read %q\n", fmt.Sprintf("line %d", i))) {
			t.Fatalf("job Y: rank 0 did not print line %d:\n%s", i, stdout)
		}
	}
	if !strings.Contains(stdout, fmt.Sprintf("rank 0 read %d lines\n", n)) || strings.Count(stdout, "read 0 lines\n") != 3 {
		t.Fatalf("job Y: incomplete output:\n%s", stdout)
	}
	r.noRankLeft(t, 5*time.Second)
}

// TestMultihostSignalWhileShipping: SIGINT or SIGTERM while a 100 MB
// program ships to the agents ends the launcher within 2 s with 130 or
// 143; the agents give the job up (their slots free again) and no rank
// runs anywhere. After SIGKILL the launcher can tell the agents nothing:
// they give the job up when its heartbeats stop (a lease, 3 s), well
// before a chunk's request would time out (shipTimeout, 10 s).
func TestMultihostSignalWhileShipping(t *testing.T) {
	t.Parallel()
	r := newHostsRig(t, map[string]int{"a": 2, "b": 2})
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			// A fresh program each time (a warm cache would ship nothing):
			// behave padded to 100 MB with a random tail.
			big := paddedProgram(t, bin("behave"), 100<<20)
			p := r.Start(t, "launcher", nil, r.gorun, "-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", big, "-mode", "sleep")
			if !shippingStarted(60*time.Second, r.caches["a"], r.caches["b"]) {
				t.Fatalf("no agent began fetching the program:\n%s", p.Output())
			}
			p.Signal(sig)
			if !p.Wait(2 * time.Second) {
				t.Fatalf("the launcher still runs 2 s after %v mid-shipping:\n%s", sig, p.Output())
			}
			freeWithin := 10 * time.Second
			if sig == syscall.SIGKILL {
				freeWithin = 8 * time.Second // less than shipTimeout, more than a lease
			} else if p.ExitCode() != 128+int(sig) || !strings.Contains(p.Stderr(), "gorun: interrupted") {
				t.Fatalf("status %d, want %d:\n%s", p.ExitCode(), 128+int(sig), p.Output())
			}
			allFree := regexp.MustCompile(`(?m)^a\s+2\s+2\s`)
			deadline := time.Now().Add(freeWithin)
			for {
				out, _ := r.Run(t, "launcher", 10*time.Second, r.gorun, "agents", "--nats", r.URL())
				if allFree.MatchString(out) && regexp.MustCompile(`(?m)^b\s+2\s+2\s`).MatchString(out) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the agents still hold the %v job's slots %v after:\n%s", sig, freeWithin, out)
				}
				time.Sleep(100 * time.Millisecond)
			}
			r.noRankLeft(t, 2*time.Second)
		})
	}
}

// paddedProgram copies the binary src, padded to size bytes with random
// bytes (ignored by the loader), into a temporary file.
func paddedProgram(t *testing.T, src string, size int64) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	pad := make([]byte, size-int64(len(data)))
	if _, err := rand.Read(pad[:4096]); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "behave-big")
	if err := os.WriteFile(path, append(data, pad...), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// shippingStarted waits until a fetch is under way (a partial program file
// with some bytes) in one of the agents' caches.
func shippingStarted(limit time.Duration, caches ...string) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		for _, dir := range caches {
			parts, _ := filepath.Glob(filepath.Join(dir, "fetch-*"))
			for _, part := range parts {
				if fi, err := os.Stat(part); err == nil && fi.Size() > 0 {
					return true
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// TestMultihostOutputFlowControl: two ranks on two hosts each write about
// 26 MB of lines as fast as they can to a launcher whose stdout is a pipe
// read slowly (3 MB/s, slower than they write). The agents hold back
// (credit per host) instead of flooding the launcher: the job ends with
// status 0, every line arrives whole and in order per rank, the launcher's
// memory stays bounded, and the NATS server saw no slow consumer. (Without
// flow control the launcher queues the output, its agents' heartbeats wait
// behind it, and it ends the job as "lost agent".)
func TestMultihostOutputFlowControl(t *testing.T) {
	t.Parallel()
	r := newHostsRig(t, map[string]int{"a": 1, "b": 1})
	const n = 150000 // lines per rank, 175 bytes on average
	p, out := r.StartWithStdout(t, "launcher", nil, r.gorun, "-np", "2", "--nats", r.URL(), "--hosts", "a:1,b:1",
		"--tag-output", bin("behave"), "-mode", "lines", "-n", itoa(n))
	slow := &slowReader{r: out, chunk: 32 << 10, pause: 10 * time.Millisecond}
	var peak int64 // the launcher's peak resident memory, kB
	next := [2]int{}
	var total int64
	sc := bufio.NewScanner(slow)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		total += int64(len(l)) + 1
		var rank, i int
		if _, err := fmt.Sscanf(l, "[%d] rank %d line %d", &rank, &rank, &i); err != nil || rank < 0 || rank > 1 {
			t.Fatalf("a line that no rank wrote: %.100q", l)
		}
		want := fmt.Sprintf("[%d] rank %d line %d %s", rank, rank, next[rank], strings.Repeat("x", 50+next[rank]%200))
		if l != want {
			t.Fatalf("rank %d: line %d torn or out of order: %.100q", rank, next[rank], l)
		}
		next[rank]++
		if next[rank]%10000 == 0 {
			peak = max(peak, peakRSS(p.Pid()))
		}
	}
	if !p.Wait(waitLimit) {
		t.Fatalf("the launcher still runs after its stdout ended:\n%s", p.Output())
	}
	if p.ExitCode() != 0 || next != [2]int{n, n} {
		t.Fatalf("status %d, lines %v of %d each (%d bytes); stderr:\n%s", p.ExitCode(), next, n, total, p.Stderr())
	}
	if slowConsumers := hostrig.NATSSlowConsumers(t, r.nats); slowConsumers != 0 {
		t.Errorf("the NATS server saw %d slow consumers", slowConsumers)
	}
	t.Logf("%d bytes of output read; the launcher's peak RSS: %d kB", total, peak)
	if peak > 100<<10 {
		t.Errorf("the launcher grew to %d kB: its output is not held back", peak)
	}
	r.noRankLeft(t, 5*time.Second)
}

// peakRSS is process pid's peak resident memory in kB (0 if unknown).
func peakRSS(pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	var kb int64
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
		}
	}
	return kb
}

// slowReader reads at most chunk bytes at a time, pausing before each read.
type slowReader struct {
	r     io.Reader
	chunk int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), s.chunk)])
}

// TestMultihostTrace: gorun --trace with ranks on two agents, its clock
// exchanges and the ranks' records going through the agents' relay.
//
//   - The seeded plan of tests/progs/trace on a:2,b:2: a track per rank and
//     an arrow per message sent, from its send to the receive that took it,
//     with the same tag and size, the send first (TestTraceJSON's checker).
//     Every rank's clock was measured through the relay; in the rig every
//     host runs on one kernel, so gorun finds gorun's own boot id and takes
//     the offset as 0, and the measurement, which the trace records next to
//     it, must lie within its error bound of that true 0. Were a rank's
//     offset estimated, the send-first check allows the two ranks' bounds.
//   - A deadlocked job gets its trace, every rank's Recv unfinished.
//   - Records too many for one NATS message (a ping-pong's 80,000 calls)
//     arrive whole.
func TestMultihostTrace(t *testing.T) {
	t.Parallel()
	r := newHostsRig(t, map[string]int{"a": 2, "b": 2})
	t.Run("plan", func(t *testing.T) {
		const np, seed = 4, 41
		path := filepath.Join(t.TempDir(), "t.json")
		stdout, stderr, code := r.launch(t, "-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", "--trace", path,
			bin("trace"), "-seed", itoa(seed), "-rounds", "12")
		if code != 0 || strings.Contains(stderr, "gorun: trace") {
			t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		bound := traceClockBounds(t, path, np)
		tracks, calls, events := readTrace(t, path, np)
		flows := checkFlowsWithin(t, tracks, calls, events, bound)
		if want := sentTotal(t, stdout, np); flows != want {
			t.Fatalf("%d arrows for %d messages sent (seed %d)", flows, want, seed)
		}
	})
	t.Run("deadlock", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "t.json")
		_, stderr, code := r.launch(t, "-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", "--trace", path, bin("behave"), "-mode", "deadlock")
		if code != 1 || !strings.Contains(stderr, "gorun: deadlock: every rank is blocked") || strings.Contains(stderr, "gorun: trace") {
			t.Fatalf("status %d, want 1 with a deadlock report and the whole trace:\n%s", code, stderr)
		}
		checkDeadlockTrace(t, path, 4)
		r.noRankLeft(t, 5*time.Second)
	})
	t.Run("many-records", func(t *testing.T) {
		const iters = 36000 // and a tenth more to warm up: 2 calls each
		path := filepath.Join(t.TempDir(), "t.json")
		_, stderr, code := r.launch(t, "-np", "2", "--nats", r.URL(), "--hosts", "a:2", "--trace", path, bin("tracebench"), "-iters", itoa(iters))
		if code != 0 || strings.Contains(stderr, "gorun: trace") {
			t.Fatalf("status %d:\n%s", code, stderr)
		}
		_, calls, _ := readTrace(t, path, 2)
		for rank := range 2 {
			if n, want := len(calls[rank]), 2*(iters+iters/10); n != want {
				t.Errorf("rank %d: %d calls in the trace, want %d", rank, n, want)
			}
		}
	})
}

// traceClockBounds reads how gorun aligned each rank's clock
// (otherData.clocks) and returns, per rank, the error bound of its offset
// in microseconds: 0 for a rank on gorun's kernel, where it also checks
// that the clock exchanges, made anyway, measured 0 within their bound.
// Every rank must have been measured by clockSamples exchanges.
func traceClockBounds(t *testing.T, path string, np int) map[int]float64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		OtherData struct {
			Clocks map[string]string `json:"clocks"`
		} `json:"otherData"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	measured := regexp.MustCompile(`measured ([-+][0-9.]+) us ± ([0-9.]+) us over 8 exchanges`)
	bound := map[int]float64{}
	for rank := range np {
		how := file.OtherData.Clocks[fmt.Sprintf("rank %d", rank)]
		m := measured.FindStringSubmatch(how)
		if m == nil {
			t.Fatalf("rank %d's clock: %q, want 8 exchanges measured", rank, how)
		}
		off, _ := strconv.ParseFloat(m[1], 64)
		b, _ := strconv.ParseFloat(m[2], 64)
		switch {
		case strings.HasPrefix(how, "same host as gorun, one clock: offset 0 "):
			// One kernel's clock: the true offset is 0 (up to the
			// microsecond the texts round to and the reading of the
			// wall and monotonic clocks at each process's start).
			if math.Abs(off) > b+1 {
				t.Errorf("rank %d: the exchanges through the relay measured %v us ± %v us on one clock, whose offset is 0", rank, off, b)
			}
		case strings.HasPrefix(how, "offset measured "):
			bound[rank] = b
		default:
			t.Fatalf("rank %d's clock: %q", rank, how)
		}
		t.Logf("rank %d: %s", rank, how)
	}
	return bound
}
