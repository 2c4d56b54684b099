package tests

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

// verdictWithin is how soon after the last rank blocks gorun must have
// declared a true deadlock and ended the job.
const verdictWithin = 2 * time.Second

// explained lists lines the deadlock report must include, per mode.
var explained = map[string][]string{
	"recv-first": {"gorun:   cycle: rank 0 Recv(source 1, tag 5) → rank 1 Recv(source 2, tag 5) → rank 2 Recv(source 0, tag 5) → rank 0"},
	"send-send":  {"gorun:   cycle: rank 0 Send(dest 1, tag 1) → rank 1 Send(dest 0, tag 1) → rank 0"},
	"ssend-pair": {"gorun:   cycle: rank 0 Ssend(dest 1, tag 1) → rank 1 Ssend(dest 0, tag 1) → rank 0"},
	"wait-finished": {"gorun:   rank 2 has finished while ranks 0, 1 wait for a message from any rank: " +
		"only blocked ranks are left to send it"},
	"wrong-tag": {
		"gorun:   cycle: rank 0 Recv(source 1, tag 5) → rank 1 Recv(source 0, tag 7) → rank 0",
		"gorun:   never received: rank 1 sent tag 6 to rank 0, which waits for tag 5 from it",
	},
}

// TestTrueDeadlocksAreReportedQuickly: the classic deadlocks end with
// gorun's deadlock line and status 1 within verdictWithin of the moment the
// last rank blocked, on both transports, and the report explains them: the
// wait-for cycle, the message nobody receives, the finished rank.
func TestTrueDeadlocksAreReportedQuickly(t *testing.T) {
	blockedAt := regexp.MustCompile(`blocking at (\d+)`)
	// The verdict is timed: two of these jobs at a time, whatever
	// -test.parallel allows, as on a 2-core machine before it was raised.
	atOnce := make(chan struct{}, 2)
	for _, tr := range transports {
		for _, tc := range []struct {
			mode string
			np   int
			line string
		}{
			{"recv-first", 3, `^gorun: deadlock: every rank is blocked: rank 0 in Recv\(source 1, tag 5\); rank 1 in Recv\(source 2, tag 5\); rank 2 in Recv\(source 0, tag 5\)$`},
			{"send-send", 2, `^gorun: deadlock: every rank is blocked: rank 0 in Send\(dest 1, tag 1\); rank 1 in Send\(dest 0, tag 1\)$`},
			{"ssend-pair", 2, `^gorun: deadlock: every rank is blocked: rank 0 in Ssend\(dest 1, tag 1\); rank 1 in Ssend\(dest 0, tag 1\)$`},
			{"wait-finished", 3, `^gorun: deadlock: every rank still running is blocked: rank 0 in Recv\(source any, tag 9\); rank 1 in Recv\(source any, tag 9\)$`},
			{"wrong-tag", 2, `^gorun: deadlock: every rank is blocked: rank 0 in Recv\(source 1, tag 5\); rank 1 in Recv\(source 0, tag 7\)$`},
		} {
			t.Run(tr.name+"/"+tc.mode, func(t *testing.T) {
				t.Parallel()
				atOnce <- struct{}{}
				defer func() { <-atOnce }()
				res := runGorun(t, job{np: tc.np, prog: "verdict", flags: tr.flags, args: []string{"-mode", tc.mode}})
				ended := time.Now()
				g := gorunLines(res.stderr)
				if res.code != 1 || len(g) == 0 || !regexp.MustCompile(tc.line).MatchString(g[0]) {
					t.Fatalf("exit status %d, gorun said %q; want 1 and a line matching %s\nstderr:\n%s", res.code, g, tc.line, res.stderr)
				}
				for _, want := range explained[tc.mode] {
					if !slices.Contains(g, want) {
						t.Errorf("gorun's report lacks %q:\n%s", want, strings.Join(g, "\n"))
					}
				}
				var last int64
				for _, m := range blockedAt.FindAllStringSubmatch(res.stdout, -1) {
					ms, _ := strconv.ParseInt(m[1], 10, 64)
					last = max(last, ms)
				}
				if last == 0 {
					t.Fatalf("no rank said it was blocking:\n%s", res.stdout)
				}
				took := ended.Sub(time.UnixMilli(last))
				t.Logf("verdict and teardown %v after the last rank blocked", took)
				if took > verdictWithin {
					t.Errorf("gorun took %v after the last rank blocked to end the deadlocked job, want at most %v", took, verdictWithin)
				}
				noProcessLeft(t, res)
			})
		}
	}
}

// TestLiveJobsAreNeverDeadlocks: jobs that move data slowly or compute
// while others wait finish with status 0 and no verdict. Copies are made
// slow on any machine with mpi.CopyDelayEnv; the ring and the big message
// use single copy, the socket, and NATS.
func TestLiveJobsAreNeverDeadlocks(t *testing.T) {
	compute := "10"
	if testing.Short() {
		compute = "3"
	}
	slow := mpi.CopyDelayEnv + "=1500ms"
	cases := []struct {
		name string
		j    job
		want string
	}{
		{"ring of slow Sendrecv", job{np: 3, prog: "verdict", env: []string{slow},
			args: []string{"-mode", "ring", "-kib", "4096", "-rounds", "3"}}, "ok\n"},
		{"ring of slow Sendrecv through sockets", job{np: 3, prog: "verdict", env: []string{slow, "GORUN_SINGLE_COPY=0"},
			args: []string{"-mode", "ring", "-kib", "4096", "-rounds", "2"}}, "ok\n"},
		{"slow big message", job{np: 2, prog: "stream", env: []string{slow},
			args: []string{"-mode", "big", "-mib", "64"}}, "big: 64 MiB intact\n"},
		{"rank 0 computes while the others wait", job{np: 4, prog: "verdict",
			args: []string{"-mode", "compute", "-seconds", compute}}, "ok\n"},
	}
	for _, tr := range transports {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				tc.j.flags = tr.flags
				res := runGorun(t, tc.j)
				if res.code != 0 || !strings.Contains(res.stdout, tc.want) {
					t.Fatalf("exit status %d, want 0 and %q\nstdout:\n%s\nstderr:\n%s", res.code, tc.want, res.stdout, res.stderr)
				}
			})
		}
	}
}

// TestManyRanksOnTwoCoresAreNotDeadlocks: 64 ranks pass slow 256 KiB
// messages around a ring, on a machine with far fewer cores.
func TestManyRanksOnTwoCoresAreNotDeadlocks(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			res := runGorun(t, job{np: 64, prog: "verdict", flags: tr.flags, env: []string{mpi.CopyDelayEnv + "=300ms"},
				args: []string{"-mode", "ring", "-kib", "256", "-rounds", "3"}})
			if res.code != 0 || !strings.Contains(res.stdout, "ok\n") {
				t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
		})
	}
}

// TestGigabyteMessage sends 1 GiB from one rank to another with copies
// slowed down, by single copy, through the socket and over NATS: no
// verdict, and it arrives intact.
func TestGigabyteMessage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: 1 GiB each way")
	}
	ways := []struct {
		name  string
		flags []string
		env   []string
	}{
		{"local", nil, nil},
		{"local through the socket", nil, []string{"GORUN_SINGLE_COPY=0"}},
		{"nats", []string{"--transport", "nats"}, nil},
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			res := runGorun(t, job{np: 2, prog: "stream", flags: w.flags, env: append(w.env, mpi.CopyDelayEnv+"=1s"),
				args: []string{"-mode", "big", "-mib", fmt.Sprint(1024)}})
			if res.code != 0 || !strings.Contains(res.stdout, "big: 1024 MiB intact\n") {
				t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
		})
	}
}
