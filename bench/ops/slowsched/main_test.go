package main

import (
	"strings"
	"testing"
)

// Two ranks (processes 100 and 200, polling threads 101 and 201, monitor
// thread 102 of rank 100) and a foreign process 300, in perf script's
// format (microsecond and nanosecond times, a command with a space).
const sampleSched = `
 ops 100/101 [000] 10.000010000: sched:sched_wakeup: comm=ops pid=102 prio=120 target_cpu=000
 ops 100/101 [000] 10.000011000: sched:sched_switch: prev_comm=ops prev_pid=101 prev_prio=120 prev_state=R ==> next_comm=ops next_pid=102 next_prio=120
 ops 100/102 [000] 10.000021000: sched:sched_switch: prev_comm=ops prev_pid=102 prev_prio=120 prev_state=S ==> next_comm=ops next_pid=101 next_prio=120
 ops 200/201 [001] 10.000100: sched:sched_switch: prev_comm=ops prev_pid=201 prev_prio=120 prev_state=R ==> next_comm=cc 1 next_pid=301 next_prio=120
 cc 1 300/301 [001] 10.000150: sched:sched_switch: prev_comm=cc 1 prev_pid=301 prev_prio=120 prev_state=R ==> next_comm=ops next_pid=201 next_prio=120
 ops 200/201 [001] 10.000300000: sched:sched_switch: prev_comm=ops prev_pid=201 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
 cc 1 300/301 [000] 10.000400000: sched:sched_switch: prev_comm=cc 1 prev_pid=301 prev_prio=120 prev_state=R ==> next_comm=ops next_pid=101 next_prio=120
 ops 100/101 [000] 10.000401000: sched:sched_stat_runtime: comm=ops pid=101 runtime=1 [ns]
`

// Calls of rank 100 (10000 calls in its loop): one around the monitor
// thread's run, one around the foreign preemption, one around rank 200's
// sleep, one with no event, one around both the monitor's run and the
// foreign one (foreign wins).
const sampleCalls = `pingpong/8 5 10000 100 10000005000 10000030000
pingpong/8 9 10000 100 10000090000 10000160000
pingpong/8 12 10000 100 10000290000 10000310000
pingpong/8 20 10000 100 10000500000 10000504000
pingpong/8 30 10000 100 10000000000 10000200000
`

func TestSummarizeClassifiesEachCall(t *testing.T) {
	calls, err := readCalls(strings.NewReader(sampleCalls))
	if err != nil {
		t.Fatal(err)
	}
	events, err := readEvents(strings.NewReader(sampleSched))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 7 {
		t.Fatalf("read %d events, want 7 (the switches and the wake-up)", len(events))
	}
	// Rank 200 must count as a rank too: give it a call of its own.
	calls = append(calls, call{label: "pingpong/8", calls: 10000, pid: 200, start: 1, end: 2})
	s := summarize(calls, events)
	want := map[key]tally{
		{"pingpong/8", classOwn, 100, 1}:     {1, 25},  // <32us
		{"pingpong/8", classForeign, 100, 2}: {1, 70},  // <128us
		{"pingpong/8", classForeign, 100, 3}: {1, 200}, // <1000us: foreign wins over own
		{"pingpong/8", classSlept, 100, 1}:   {1, 20},
		{"pingpong/8", classNone, 100, 0}:    {1, 4},
		{"pingpong/8", classNone, 200, 0}:    {1, 0.001},
	}
	if len(s.rows) != len(want) {
		t.Errorf("%d rows, want %d: %v", len(s.rows), len(want), s.rows)
	}
	for k, w := range want {
		got, ok := s.rows[k]
		if !ok || got.calls != w.calls || got.micros < w.micros-1e-6 || got.micros > w.micros+1e-6 {
			t.Errorf("row %+v: got %+v (present %v), want %+v", k, got, ok, w)
		}
	}
	var b strings.Builder
	report(&b, s)
	found := false
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.Join(strings.Fields(line), " ") == "pingpong/8 100 foreign <128us 1 70.0 0.0070" {
			found = true
		}
	}
	if !found {
		t.Errorf("report lacks the row of the 70 us foreign call:\n%s", b.String())
	}
}

func TestReadCallsRefusesBadLines(t *testing.T) {
	for _, line := range []string{
		"pingpong/8 1 10 100 5",              // a field short
		"pingpong/8 1 10 100 5 x",            // not a number
		"pingpong/8 1 10 100 10000 9999",     // ends before it starts
		"pingpong/8 1 10 100 10000 20000 30", // a field too many
	} {
		if _, err := readCalls(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
}

func TestParseSeconds(t *testing.T) {
	for s, want := range map[string]int64{
		"10.000010000": 10_000_010_000,
		"10.000100":    10_000_100_000,
		"7":            7_000_000_000,
	} {
		if got, err := parseSeconds(s); err != nil || got != want {
			t.Errorf("parseSeconds(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
}
