package main

import (
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/internal/jobenv"
)

func TestRankEnv(t *testing.T) {
	base := []string{"HOME=/h", "GORUN_RANK=7", "GORUN_NATS_URL=nats://old", "GORUN_COLL_ALLREDUCE=ring"}
	job := jobenv.Job{Rank: 1, Size: 3, Transport: "local"}
	env := rankEnv(base, job, 3, 2, false)
	joined := strings.Join(env, "\n")
	for _, want := range []string{"HOME=/h", "GORUN_RANK=1", "GORUN_SIZE=3", "GORUN_COLL_ALLREDUCE=ring", "GORUN_YIELD=1", "GORUN_TRANSPORT=local"} {
		if !strings.Contains(joined, want+"\n") && !strings.HasSuffix(joined, want) {
			t.Errorf("env lacks %s:\n%s", want, joined)
		}
	}
	for _, bad := range []string{"GORUN_RANK=7", "nats://old"} {
		if strings.Contains(joined, bad) {
			t.Errorf("env keeps the enclosing job's %s", bad)
		}
	}
	if env := rankEnv(append(base, "GORUN_YIELD=0"), job, 3, 2, false); strings.Contains(strings.Join(env, " "), "GORUN_YIELD=1") {
		t.Error("GORUN_YIELD=1 overrode the user's setting")
	}
	for _, tc := range []struct {
		np, cpus int
		want     string
	}{{4, 2, "GOMAXPROCS=1"}, {2, 2, "GOMAXPROCS=1"}, {2, 8, "GOMAXPROCS=4"}, {3, 8, "GOMAXPROCS=2"}} {
		if env := strings.Join(rankEnv(base, job, tc.np, tc.cpus, false), " "); !strings.Contains(env, tc.want) {
			t.Errorf("np %d on %d cpus: env lacks %s", tc.np, tc.cpus, tc.want)
		}
	}
	if env := rankEnv(append(base, "GOMAXPROCS=7"), job, 4, 2, false); strings.Contains(strings.Join(env, " "), "GOMAXPROCS=1") {
		t.Error("gorun overrode the user's GOMAXPROCS")
	}
	if env := rankEnv(base, job, 2, 2, false); strings.Contains(strings.Join(env, " "), "GORUN_YIELD") {
		t.Error("GORUN_YIELD set without oversubscription")
	}
}

func TestSyncSendsReachTheRanks(t *testing.T) {
	job := jobenv.Job{Rank: 0, Size: 2}
	if env := strings.Join(rankEnv(nil, job, 2, 2, true), " "); !strings.Contains(env, jobenv.SyncSends+"=1") {
		t.Errorf("--sync-sends: env lacks %s=1: %s", jobenv.SyncSends, env)
	}
	if env := strings.Join(rankEnv(nil, job, 2, 2, false), " "); strings.Contains(env, jobenv.SyncSends) {
		t.Errorf("%s set without --sync-sends: %s", jobenv.SyncSends, env)
	}
}

// TestOneProcPerRank: the ranks' GOMAXPROCS is the user's when set, else
// gorun's share of the CPUs.
func TestOneProcPerRank(t *testing.T) {
	for _, tc := range []struct {
		base       []string
		np, cpus   int
		onePerRank bool
	}{
		{nil, 2, 2, true},
		{nil, 4, 2, true},
		{nil, 1, 2, false},
		{nil, 2, 8, false},
		{[]string{"GOMAXPROCS=1"}, 1, 8, true},
		{[]string{"HOME=/h", "GOMAXPROCS=2"}, 4, 2, false},
		{[]string{"GOMAXPROCS= 1 "}, 2, 8, false}, // the runtime ignores it: all 8
	} {
		if got := oneProcPerRank(tc.base, tc.np, tc.cpus); got != tc.onePerRank {
			t.Errorf("oneProcPerRank(%q, np %d, %d CPUs) = %v, want %v", tc.base, tc.np, tc.cpus, got, tc.onePerRank)
		}
	}
}
