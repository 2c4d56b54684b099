package main

import (
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/internal/jobenv"
)

func TestRankEnv(t *testing.T) {
	base := []string{"HOME=/h", "GORUN_RANK=7", "GORUN_NATS_URL=nats://old", "GORUN_COLL_ALLREDUCE=ring"}
	job := jobenv.Job{Rank: 1, Size: 3, Transport: "local"}
	env := rankEnv(base, job, 3, 2)
	joined := strings.Join(env, "\n")
	for _, want := range []string{"HOME=/h", "GORUN_RANK=1", "GORUN_SIZE=3", "GORUN_COLL_ALLREDUCE=ring", "GORUN_SPIN=0", "GORUN_TRANSPORT=local"} {
		if !strings.Contains(joined, want+"\n") && !strings.HasSuffix(joined, want) {
			t.Errorf("env lacks %s:\n%s", want, joined)
		}
	}
	for _, bad := range []string{"GORUN_RANK=7", "nats://old"} {
		if strings.Contains(joined, bad) {
			t.Errorf("env keeps the enclosing job's %s", bad)
		}
	}
	if env := rankEnv(append(base, "GORUN_SPIN=10us"), job, 3, 2); strings.Contains(strings.Join(env, " "), "GORUN_SPIN=0") {
		t.Error("GORUN_SPIN=0 overrode the user's setting")
	}
	if env := rankEnv(base, job, 2, 2); strings.Contains(strings.Join(env, " "), "GORUN_SPIN") {
		t.Error("GORUN_SPIN set without oversubscription")
	}
}
