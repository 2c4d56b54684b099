package tests

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tasksPerRank reads the "rank R: K tasks" lines the farm program prints.
func tasksPerRank(stdout string) map[int]int {
	per := map[int]int{}
	for _, m := range regexp.MustCompile(`(?m)^rank (\d+): (\d+) tasks$`).FindAllStringSubmatch(stdout, -1) {
		r, _ := strconv.Atoi(m[1])
		k, _ := strconv.Atoi(m[2])
		per[r] = k
	}
	return per
}

// TestFarm runs package farm across real processes on each transport (and
// with every send synchronous): results in order, every task once, the
// load balanced around a slow task, a task's error on every rank, and a
// worker that dies mid-farm.
func TestFarm(t *testing.T) {
	t.Parallel()
	runs := append(transports[:len(transports):len(transports)], struct {
		name  string
		flags []string
	}{"sync-sends", []string{"--sync-sends"}})
	for _, tr := range runs {
		t.Run(tr.name, func(t *testing.T) {
			t.Run("order", func(t *testing.T) {
				for _, c := range []struct{ np, chunk int }{{1, 0}, {3, 0}, {4, 1}, {5, 10}} {
					res := runGorun(t, job{np: c.np, prog: "farm", flags: tr.flags,
						args: []string{"-mode", "order", "-n", "2000", "-chunk", fmt.Sprint(c.chunk)}})
					if res.code != 0 || !strings.Contains(res.stdout, "tasks=2000 ") || !strings.Contains(res.stdout, "Map: 2000 results\n") ||
						strings.Contains(res.stdout, "wrong") || strings.Contains(res.stdout, "Map: result") || strings.Contains(res.stdout, "Map gave") {
						t.Fatalf("np=%d chunk=%d: exit status %d\nstdout:\n%s\nstderr:\n%s", c.np, c.chunk, res.code, res.stdout, res.stderr)
					}
					per := tasksPerRank(res.stdout)
					if c.np > 1 && per[0] != 0 {
						t.Errorf("np=%d: rank 0 ran %d tasks, want none", c.np, per[0])
					}
					noProcessLeft(t, res)
				}
			})
			t.Run("balance", func(t *testing.T) {
				res := runGorun(t, job{np: 4, prog: "farm", flags: tr.flags, args: []string{"-mode", "balance", "-n", "40"}})
				if res.code != 0 {
					t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
				}
				per := tasksPerRank(res.stdout)
				m := regexp.MustCompile(`slow-task-on=(\d+) .* seconds=(\S+)`).FindStringSubmatch(res.stdout)
				if m == nil {
					t.Fatalf("no summary:\n%s", res.stdout)
				}
				slow, _ := strconv.Atoi(m[1])
				secs, _ := strconv.ParseFloat(m[2], 64)
				t.Logf("tasks per rank %v, the slow task on rank %d, %.2f s", per, slow, secs)
				for r := 1; r < 4; r++ {
					if r == slow && per[r] > 2 {
						t.Errorf("rank %d ran the 1.5 s task and %d others: it held more than the next one", r, per[r]-1)
					}
					if r != slow && per[r] < 10 {
						t.Errorf("rank %d ran only %d tasks\n%s", r, per[r], res.stdout)
					}
				}
				if secs > 5 {
					t.Errorf("the farm took %.2f s: the slow task held the others up", secs)
				}
			})
			t.Run("error", func(t *testing.T) {
				res := runGorun(t, job{np: 4, prog: "farm", flags: tr.flags, args: []string{"-mode", "error", "-n", "100", "-chunk", "1"}})
				m := regexp.MustCompile(`(?m)^rank 0: (farm: task 17 on rank ([1-3]): no data for input 17)$`).FindStringSubmatch(res.stdout)
				if res.code != 4 || m == nil {
					t.Fatalf("exit status %d, want 4 and the error naming task 17 and its rank\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
				}
				for r := 1; r < 4; r++ {
					if !strings.Contains(res.stdout, fmt.Sprintf("rank %d: %s\n", r, m[1])) {
						t.Errorf("rank %d did not return the same error:\n%s", r, res.stdout)
					}
				}
				noProcessLeft(t, res)
			})
			t.Run("worker-dies", func(t *testing.T) {
				start := time.Now()
				res := runGorun(t, job{np: 4, prog: "farm", flags: tr.flags, args: []string{"-mode", "exit", "-n", "300", "-chunk", "1"}})
				took := time.Since(start)
				if res.code != 3 || !regexp.MustCompile(`(?m)^gorun: rank 2 \(pid \d+\) exited with status 3$`).MatchString(res.stderr) {
					t.Fatalf("exit status %d, want 3 and gorun naming rank 2\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
				}
				if took > 30*time.Second {
					t.Errorf("the job took %v to end", took)
				}
				noProcessLeft(t, res)
			})
		})
	}
}
