package tests

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/tests/hostrig"
)

// TestMultihostSecretNeverInClear: a client of the NATS account that
// subscribes to everything during a two-host launch (an eavesdropper, or
// another job's rank: both hold the account's credentials) never sees the
// job's secret, the cluster's secret or the program's arguments: the
// launch requests carry them sealed for the agents, and nothing the agents
// relay (the ranks' hellos among it) carries them.
func TestMultihostSecretNeverInClear(t *testing.T) {
	t.Parallel()
	r := newBareRig(t, "a", "b")
	cluster := "GORUN_CLUSTER_SECRET=" + newMarker() + newMarker()
	for _, name := range []string{"a", "b"} {
		r.Hide(name, binDir)
		r.caches[name] = t.TempDir()
		a := r.Start(t, name, []string{cluster, "GORUN_TEST_MARKER=" + r.marker}, r.gorun, "agent", "--nats", r.URL(),
			"--name", name, "--slots", "2", "--cache", r.caches[name])
		if !a.WaitFor("serving", 20*time.Second) {
			t.Fatalf("agent %s did not start:\n%s", name, a.Output())
		}
		r.agents[name] = a
	}
	spyOut := filepath.Join(t.TempDir(), "seen")
	spy := r.Start(t, "launcher", nil, rigTool(t, "natsspy", "./hostrig/natsspy"), "-nats", r.URL(), "-out", spyOut)
	if !spy.WaitFor("ready", 20*time.Second) {
		t.Fatalf("natsspy did not start:\n%s", spy.Output())
	}

	// The program tells its secret with each hex digit moved 8 places
	// (which is not the secret), and then joins the job as an MPI program
	// (its hello carries the secret to its agent).
	const digits, moved = "0123456789abcdef", "89abcdef01234567"
	behave := rigTool(t, "behave", "./progs/behave")
	script := filepath.Join(t.TempDir(), "tell")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf 'moved %s\\n' \"$(printf %s \"$GORUN_SECRET\" | tr "+digits+" "+moved+")\"\nexec "+
		behave+" -mode hello \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	canary := "canary-" + newMarker()
	p := r.Start(t, "launcher", []string{cluster}, r.gorun, "-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", script, canary)
	if !p.Wait(waitLimit) {
		t.Fatalf("gorun still runs:\n%s", p.Output())
	}
	if p.ExitCode() != 0 || strings.Count(p.Stdout(), "hello from") != 4 {
		t.Fatalf("the job failed: status %d\n%s", p.ExitCode(), p.Output())
	}
	told := regexp.MustCompile(`(?m)^moved ([0-9a-f]{64})$`).FindAllStringSubmatch(p.Stdout(), -1)
	if len(told) != 4 {
		t.Fatalf("%d ranks told their secret (64 hex digits), want 4:\n%s", len(told), p.Stdout())
	}
	secret := strings.Map(func(c rune) rune { return rune(digits[strings.IndexRune(moved, c)]) }, told[0][1])
	for _, m := range told[1:] {
		if m[1] != told[0][1] {
			t.Fatalf("the ranks know different secrets:\n%s", p.Stdout())
		}
	}

	seen := spySync(t, spy, spyOut)
	for _, want := range []string{"gorun.agent.a.launch", "gorun.agent.b.launch", ".up.0", ".up.1"} {
		if !bytes.Contains(seen, []byte(want)) {
			t.Fatalf("the eavesdropper missed the job's traffic (no %q in %d bytes): the test proves nothing", want, len(seen))
		}
	}
	for what, s := range map[string]string{
		"the job's secret":     secret,
		"the cluster's secret": strings.TrimPrefix(cluster, "GORUN_CLUSTER_SECRET="),
		"the program argument": canary,
	} {
		for _, form := range clearForms(s) {
			if i := bytes.Index(seen, []byte(form)); i >= 0 {
				t.Errorf("a client of the NATS account read %s (%q) in clear: ...%s...", what, form, seen[max(i-300, 0):min(i+100, len(seen))])
			}
		}
	}
	r.noRankLeft(t, 5*time.Second)
}

// clearForms are the ways s shows in a message as it is or in JSON: the
// bytes themselves, and base64 (a []byte field) at each alignment.
func clearForms(s string) []string {
	forms := []string{s}
	for skip := range 3 {
		enc := base64.StdEncoding.EncodeToString([]byte(s[skip:]))
		// The last group may hold bits of what follows s.
		forms = append(forms, enc[:len(enc)-4])
	}
	return forms
}

// spySync waits until natsspy has written every message the server had
// routed, and returns them.
func spySync(t *testing.T, spy *hostrig.Proc, out string) []byte {
	t.Helper()
	n := strings.Count(spy.Output(), "synced") + 1
	spy.Signal(syscall.SIGUSR1)
	if !spy.WaitFor(fmt.Sprintf("synced %d ", n), 20*time.Second) {
		t.Fatalf("natsspy does not sync:\n%s", spy.Output())
	}
	seen, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

// TestMultihostRelayForgery: a client of the NATS account that replays
// every relay message of a running job it has read (its stdin among them)
// and forges others (SIGKILL for every rank, exit status 7 for each rank)
// changes nothing: the agents and the launcher drop them, and the job ends
// as it would have, rank 0 having read its two lines of stdin once each.
func TestMultihostRelayForgery(t *testing.T) {
	t.Parallel()
	r := newHostsRig(t, map[string]int{"a": 2, "b": 2})
	spy := r.Start(t, "launcher", nil, rigTool(t, "natsspy", "./hostrig/natsspy"), "-nats", r.URL(), "-out", filepath.Join(t.TempDir(), "seen"))
	if !spy.WaitFor("ready", 20*time.Second) {
		t.Fatalf("natsspy did not start:\n%s", spy.Output())
	}
	p, stdin := r.StartWithStdin(t, "launcher", nil, r.gorun, "-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", bin("behave"), "-mode", "stdin")
	if _, err := io.WriteString(stdin, "first\n"); err != nil {
		t.Fatal(err)
	}
	if !p.WaitFor(`rank 0 read "first"`, waitLimit) {
		t.Fatalf("rank 0 did not read its first line:\n%s", p.Output())
	}
	spy.Signal(syscall.SIGUSR2)
	if !spy.WaitFor("forged ", 20*time.Second) {
		t.Fatalf("natsspy did not attack:\n%s", spy.Output())
	}
	// The server had every forged message before this line.
	if _, err := io.WriteString(stdin, "second\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if !p.Wait(waitLimit) {
		t.Fatalf("gorun still runs:\n%s", p.Output())
	}
	if p.ExitCode() != 0 || !strings.Contains(p.Stdout(), "rank 0 read 2 lines") || strings.Contains(p.Stdout(), "forged") {
		t.Fatalf("the forged or replayed messages changed the job: status %d\n%s", p.ExitCode(), p.Output())
	}
	for name, a := range r.agents {
		if !strings.Contains(a.Output(), "dropped a message") {
			t.Errorf("agent %s dropped nothing: the attack did not reach it, and the test proves nothing:\n%s", name, a.Output())
		}
	}
	r.noRankLeft(t, 5*time.Second)
}
