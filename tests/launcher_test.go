package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestHelloAtEverySize(t *testing.T) {
	for np := 1; np <= 4; np++ {
		t.Run(fmt.Sprint("np=", np), func(t *testing.T) {
			t.Parallel()
			res := runGorun(t, job{np: np, prog: "behave"})
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			for r := 0; r < np; r++ {
				if !strings.Contains(res.stdout, fmt.Sprintf("hello from rank %d of %d\n", r, np)) {
					t.Errorf("no hello from rank %d:\n%s", r, res.stdout)
				}
			}
			if g := gorunLines(res.stderr); len(g) != 0 {
				t.Errorf("gorun printed on success: %v", g)
			}
			noProcessLeft(t, res)
		})
	}
}

// TestOutputIsNeverTornMidLine has 4 ranks print many lines of varying
// length at once (and one line of 1 MiB each) and checks that every line
// arrives whole.
func TestOutputIsNeverTornMidLine(t *testing.T) {
	t.Parallel()
	const np, n = 4, 300
	res := runGorun(t, job{np: np, prog: "behave", args: []string{"-mode", "lines", "-n", fmt.Sprint(n)}})
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	line := regexp.MustCompile(`^rank (\d) line (\d+) (x+)$`)
	count := 0
	for _, l := range lines(res.stdout) {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("torn or mixed line: %.120q", l)
		}
		var i int
		fmt.Sscan(m[2], &i)
		if len(m[3]) != 50+i%200 {
			t.Fatalf("line %q has %d x, want %d", l[:30], len(m[3]), 50+i%200)
		}
		count++
	}
	if count != np*n {
		t.Fatalf("%d lines, want %d", count, np*n)
	}

	res = runGorun(t, job{np: 3, prog: "behave", args: []string{"-mode", "longline"}})
	if res.code != 0 {
		t.Fatalf("longline exit %d: %s", res.code, res.stderr)
	}
	for _, l := range lines(res.stdout) {
		r := l[0]
		if len(l) != 2+1<<20 || strings.Count(l, string(rune('a'+r-'0'))) != 1<<20 {
			t.Fatalf("a 1 MiB line from rank %c arrived torn (%d bytes)", r, len(l))
		}
	}
}

func TestTagOutputAndFinalLineWithoutNewline(t *testing.T) {
	t.Parallel()
	res := runGorun(t, job{np: 3, prog: "behave", flags: []string{"--tag-output"}, args: []string{"-mode", "noeol"}})
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for r := 0; r < 3; r++ {
		want := fmt.Sprintf("[%d] rank %d without newline\n", r, r)
		if !strings.Contains(res.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, res.stdout)
		}
	}
	if !strings.Contains(res.stderr, "[1] pid 1 ") {
		t.Errorf("stderr lines are not tagged:\n%s", res.stderr)
	}
}

func TestStdinGoesToRankZeroOnly(t *testing.T) {
	t.Parallel()
	res := runGorun(t, job{np: 3, prog: "behave", args: []string{"-mode", "stdin"}, stdin: "first\nsecond\n"})
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{`rank 0 read "first"`, `rank 0 read "second"`, "rank 0 read 2 lines", "rank 1 read 0 lines", "rank 2 read 0 lines"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, res.stdout)
		}
	}
}

func TestArgumentsArePassedThrough(t *testing.T) {
	t.Parallel()
	res := runGorun(t, job{np: 2, prog: "behave", args: []string{"-mode", "args", "--", "-np", "x y", "--timeout"}})
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for r := 0; r < 2; r++ {
		want := fmt.Sprintf(`rank %d args ["-np" "x y" "--timeout"]`, r)
		if !strings.Contains(res.stdout, want) {
			t.Errorf("missing %s in:\n%s", want, res.stdout)
		}
	}
}

// TestUsageErrors checks gorun's own errors: a clear message, a non-zero
// status, no rank started.
func TestUsageErrors(t *testing.T) {
	broken := t.TempDir()
	os.WriteFile(filepath.Join(broken, "go.mod"), []byte("module broken\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(broken, "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644)
	for _, tc := range []struct {
		name  string
		args  []string
		want  string // in stderr
		check func(code int) bool
	}{
		{"np 0", []string{"-np", "0", bin("behave")}, "-np", nonZero},
		{"np negative", []string{"-np", "-2", bin("behave")}, "-np", nonZero},
		{"bad flag", []string{"-np", "2", "--frobnicate", bin("behave")}, "frobnicate", nonZero},
		{"no program", []string{"-np", "2"}, "PROGRAM", nonZero},
		{"missing program", []string{"-np", "2", "/no/such/program"}, "/no/such/program", nonZero},
		{"build failure", []string{"-np", "2", broken}, "undefinedThing", nonZero},
		{"bad transport", []string{"-np", "2", "--transport", "carrier-pigeon", bin("behave")}, "carrier-pigeon", nonZero},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runGorunRaw(t, tc.args...)
			if !tc.check(res.code) || !strings.Contains(res.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q: want a non-zero exit and a message naming %q", res.code, res.stderr, tc.want)
			}
			if strings.Contains(res.stderr, "panic") || strings.Contains(res.stdout, "hello from") {
				t.Fatalf("gorun panicked or started ranks:\n%s%s", res.stdout, res.stderr)
			}
		})
	}
}

func nonZero(code int) bool { return code != 0 }

// TestGoPackageIsBuiltAndRun runs a package directory, as go run would.
func TestGoPackageIsBuiltAndRun(t *testing.T) {
	t.Parallel()
	res := runGorunRaw(t, "-np", "2", "./progs/behave", "-mode", "args", "z")
	if res.code != 0 || !strings.Contains(res.stdout, `rank 1 args ["z"]`) {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}

// TestBindingAndSharedMemory: by default each rank runs on a CPU share of
// its own (as mpirun --bind-to core); --bind-to none leaves every rank the
// CPUs gorun has. Every rank of a local job maps the job's shared memory,
// and none of a NATS job does. Ranks with one P each start with gorun's
// timer slack for ranks, and Init gives its own thread the launcher's back.
func TestBindingAndSharedMemory(t *testing.T) {
	t.Parallel()
	own := cpusAllowed(t)
	ownSlack := timerSlack(t)
	if ownSlack == 1_000_000 {
		t.Skip("this test's own timer slack is the ranks' 1 ms: it could not tell them apart")
	}
	for _, tc := range []struct {
		name  string
		flags []string
		env   []string
		bound bool
		shm   bool
		slack bool // the ranks run with gorun's timer slack for ranks
	}{
		{"bound", nil, nil, len(own) > 1, true, true},
		{"unbound", []string{"--bind-to", "none"}, nil, false, true, true},
		{"nats", []string{"--transport", "nats"}, nil, len(own) > 1, false, true},
		// Ranks with more than one P each keep the launcher's slack.
		{"procs", nil, []string{"GOMAXPROCS=2"}, len(own) > 1, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			np := max(2, len(own))
			res := runGorun(t, job{np: np, prog: "behave", flags: tc.flags, env: tc.env, args: []string{"-mode", "cpus"}})
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			seen := map[string]int{}
			for r := 0; r < np; r++ {
				m := regexp.MustCompile(fmt.Sprintf(`(?m)^rank %d cpus (\S+)$`, r)).FindStringSubmatch(res.stdout)
				if m == nil {
					t.Fatalf("rank %d did not report its CPUs:\n%s", r, res.stdout)
				}
				seen[m[1]]++
				if !tc.bound && fmt.Sprint(parseCPUList(m[1])) != fmt.Sprint(own) {
					t.Errorf("rank %d runs on %s, want gorun's own %v", r, m[1], own)
				}
				if want := fmt.Sprintf("rank %d shm %v\n", r, tc.shm); !strings.Contains(res.stdout, want) {
					t.Errorf("want %q in\n%s", want, res.stdout)
				}
				// gorun starts ranks with one P each with rankTimerSlack
				// (cmd/gorun/timerslack_linux.go), which Go's monitor
				// thread keeps, and Init gives its own thread the
				// launcher's (this test's) back; other ranks keep it all.
				most := ownSlack
				if tc.slack {
					most = 1_000_000
				}
				if want := fmt.Sprintf("rank %d timerslack %d..%d <nil>\n", r, ownSlack, most); !strings.Contains(res.stdout, want) {
					t.Errorf("want %q in\n%s", want, res.stdout)
				}
			}
			if tc.bound && len(seen) != np {
				t.Errorf("%d ranks on %d CPUs share CPU sets: %v", np, len(own), seen)
			}
		})
	}
}

// cpusAllowed lists the CPUs this test may run on (and so gorun).
func cpusAllowed(t *testing.T) []int {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	m := regexp.MustCompile(`(?m)^Cpus_allowed_list:\s*(\S+)$`).FindSubmatch(status)
	if m == nil {
		t.Skip("no Cpus_allowed_list")
	}
	return parseCPUList(string(m[1]))
}

// parseCPUList reads a list such as "0-3,6" (Cpus_allowed_list).
func parseCPUList(list string) []int {
	var cpus []int
	for _, part := range strings.Split(list, ",") {
		var lo, hi int
		if n, _ := fmt.Sscanf(part, "%d-%d", &lo, &hi); n == 2 {
			for c := lo; c <= hi; c++ {
				cpus = append(cpus, c)
			}
		} else if _, err := fmt.Sscanf(part, "%d", &lo); err == nil {
			cpus = append(cpus, lo)
		}
	}
	return cpus
}

// timerSlack is this process's timer slack in nanoseconds, which gorun
// and its ranks inherit (/proc/self/timerslack_ns).
func timerSlack(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/timerslack_ns")
	if err != nil {
		t.Skipf("no timer slack to read: %v", err)
	}
	ns, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("/proc/self/timerslack_ns: %v", err)
	}
	return ns
}
