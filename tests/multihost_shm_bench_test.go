package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/internal/gorunner"
)

// BenchmarkMultihostHostMemory times allreduces at 2 hosts x 2 ranks on
// two agents (bench/ops: Allreduce of one float64, AllreduceSlice and
// AllreduceSliceInto of 8 MiB; the mean of back-to-back calls with p50 and
// p99, each the largest over the ranks) and logs the tables. With
// GORUN_BENCH_BEFORE naming a directory that holds another build's gorun
// and ops (say main's, before the per-host shared memory), each iteration
// runs it too, alternating with this tree's: the agents are restarted
// with each build's gorun, and the launcher ships each build's ops.
//
//	go test -run '^$' -bench BenchmarkMultihostHostMemory -benchtime 3x ./tests
func BenchmarkMultihostHostMemory(b *testing.B) {
	r := newHostsRig(b, map[string]int{"a": 2, "b": 2})
	dir := b.TempDir()
	build := gorunner.BuildCommand("-o", dir, "./ops")
	build.Dir = "../bench" // a module of its own
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building ops: %v\n%s", err, out)
	}
	type variant struct{ name, gorun, ops string }
	variants := []variant{{"this tree", r.gorun, filepath.Join(dir, "ops")}}
	if before := os.Getenv("GORUN_BENCH_BEFORE"); before != "" {
		variants = append([]variant{{"GORUN_BENCH_BEFORE", filepath.Join(before, "gorun"), filepath.Join(before, "ops")}}, variants...)
	}
	current := r.gorun
	for range b.N {
		for _, v := range variants {
			if v.gorun != current {
				for name, a := range r.agents {
					a.Kill()
					a.Wait(10 * time.Second)
					r.gorun = v.gorun
					r.startAgent(b, name, 2)
				}
				current = v.gorun
			}
			stdout, stderr, code := r.launch(b, "-np", "4", "--nats", r.URL(), "--hosts", "a:2,b:2", v.ops,
				"-kind", "coll", "-ops", "allreduce_value,allreduce,allreduce_into", "-sizes", "8,8388608", "-maxiters", "400")
			if code != 0 {
				b.Fatalf("%s: ops: status %d:\n%s", v.name, code, stderr)
			}
			var rows []string
			for _, l := range lines(stdout) {
				if !strings.HasPrefix(l, "# ") {
					rows = append(rows, l)
				}
			}
			b.Logf("%s, 2 hosts x 2 ranks:\n%s", v.name, strings.Join(rows, "\n"))
		}
	}
}
