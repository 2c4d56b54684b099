package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/examples/internal/runexample"
)

func TestMain(m *testing.M) { runexample.Main(m) }

func TestTaskfarm(t *testing.T) {
	const tasks = 12
	// The known answer, computed here independently of the farm.
	want := map[int]int{}
	total := 0
	for i := range tasks {
		want[i] = countPrimes(taskFor(i).Limit)
		total += want[i]
	}
	line := regexp.MustCompile(`(?m)^task (\d+): (\d+) primes below (\d+) \(rank (\d+)\)$`)
	for _, np := range []int{1, 4} {
		t.Run(fmt.Sprintf("np=%d", np), func(t *testing.T) {
			res := runexample.MustSucceed(t, runexample.Options{NP: np, Args: []string{"-tasks", strconv.Itoa(tasks)}})
			seen := map[int]bool{}
			perRank := map[int]int{}
			for _, m := range line.FindAllStringSubmatch(res.Stdout, -1) {
				id, _ := strconv.Atoi(m[1])
				primes, _ := strconv.Atoi(m[2])
				rank, _ := strconv.Atoi(m[4])
				if seen[id] || primes != want[id] {
					t.Errorf("task %d: %d primes (seen before: %v), want %d once", id, primes, seen[id], want[id])
				}
				seen[id] = true
				perRank[rank]++
				if np > 1 && rank == 0 {
					t.Errorf("task %d computed by the master", id)
				}
			}
			if len(seen) != tasks {
				t.Errorf("%d tasks reported, want %d:\n%s", len(seen), tasks, res.Stdout)
			}
			if !strings.Contains(res.Stdout, fmt.Sprintf("taskfarm: %d tasks, %d primes in all; ", tasks, total)) {
				t.Errorf("want the total %d in:\n%s", total, res.Stdout)
			}
			if np > 1 && len(perRank) != np-1 {
				t.Errorf("%d workers did tasks, want %d", len(perRank), np-1)
			}
		})
	}
}
