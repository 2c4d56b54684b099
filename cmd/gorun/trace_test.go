package main

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/shm"
	"github.com/gorun-mpi/gorun/internal/trace"
)

func TestTraceFlagChecksTheFileFirst(t *testing.T) {
	dir := t.TempDir()
	none := func(string) string { return "" }
	for _, name := range []string{"t.json", "t.HTML"} {
		tc, err := newTraceCollector(filepath.Join(dir, name), 2, none)
		if err != nil || tc == nil {
			t.Fatalf("%s: %v", name, err)
		}
		// The ranks gorun starts share its clock (the last value of a
		// name is the one a process sees).
		want := []string{jobenv.Trace + "=100000", jobenv.TraceFD + "=", jobenv.TraceSameClock + "=", jobenv.TraceSameClock + "=1"}
		if env := tc.env(); !slices.Equal(env, want) {
			t.Fatalf("%s: ranks get %v, want %v", name, env, want)
		}
	}
	for _, c := range []struct{ path, why string }{
		{filepath.Join(dir, "t.txt"), ".json"},
		{filepath.Join(dir, "no", "such", "dir", "t.json"), "cannot write"},
	} {
		_, err := newTraceCollector(c.path, 2, none)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.why) {
			t.Fatalf("--trace %s: %v, want a usage error saying %q", c.path, err, c.why)
		}
	}
	_, err := newTraceCollector(filepath.Join(dir, "t.json"), 2, func(k string) string {
		if k == jobenv.TraceLimit {
			return "lots"
		}
		return ""
	})
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), jobenv.TraceLimit) {
		t.Fatalf("a bad %s: %v", jobenv.TraceLimit, err)
	}
	if tc, err := newTraceCollector("", 2, none); tc != nil || err != nil {
		t.Fatalf("no --trace: %v, %v", tc, err)
	}
	var off *traceCollector
	if env := off.env(); !slices.Equal(env, []string{jobenv.Trace + "=", jobenv.TraceFD + "=", jobenv.TraceSameClock + "="}) {
		t.Fatalf("tracing off: ranks get %v, want %s, %s and %s cleared", env, jobenv.Trace, jobenv.TraceFD, jobenv.TraceSameClock)
	}
	if _, err := os.Stat(filepath.Join(dir, "t.txt")); err == nil {
		t.Fatal("a refused trace file was created")
	}
}

// TestTraceOffsetOnAndOffHost: a rank on gorun's host gets offset 0 (one
// clock), one elsewhere the estimate from its clock exchanges.
func TestTraceOffsetOnAndOffHost(t *testing.T) {
	tc := &traceCollector{host: "boot-a"}
	samples := []trace.Sample{{Sent: 100, Remote: 5150, Received: 200}, {Sent: 300, Remote: 5330, Received: 340}}
	if off, how := tc.offset(rankTrace{host: "boot-a", samples: samples}); off != 0 || !strings.Contains(how, "same host") {
		t.Fatalf("same host: offset %d (%s), want 0", off, how)
	}
	if off, how := tc.offset(rankTrace{host: "boot-b", samples: samples}); off != 5010 || !strings.Contains(how, "±") {
		t.Fatalf("another host: offset %d (%s), want 5010 from the shortest exchange", off, how)
	}
	if off, how := tc.offset(rankTrace{host: "boot-b"}); off != 0 || !strings.Contains(how, "unknown") {
		t.Fatalf("no exchange: offset %d (%s)", off, how)
	}
}

// sentMessages is a controlServer that keeps what gorun sends.
type sentMessages struct{ sent []control.Message }

func (s *sentMessages) Events() <-chan control.Event { return nil }
func (s *sentMessages) Send(rank int, m control.Message) error {
	s.sent = append(s.sent, m)
	return nil
}
func (s *sentMessages) Sync(int) {}

// TestTraceClockDone: the collector asks a rank clockSamples clock
// questions, one per answer, then says clock-done (for which the rank
// waits at Finalize); an answer out of turn ends the exchanges at once, so
// that no rank is left waiting.
func TestTraceClockDone(t *testing.T) {
	tc, err := newTraceCollector(filepath.Join(t.TempDir(), "t.json"), 2, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	server := &sentMessages{}
	tc.onEvent(server, control.Event{Rank: 0, Msg: control.Message{Type: control.TypeHello}})
	for round := 1; round <= clockSamples; round++ {
		if last := server.sent[len(server.sent)-1]; last.Type != control.TypeClock || last.Round != uint64(round) {
			t.Fatalf("question %d: gorun sent %+v", round, last)
		}
		tc.onEvent(server, control.Event{Rank: 0, Msg: control.Message{Type: control.TypeClockReply, Round: uint64(round), Clock: 5}})
	}
	if len(server.sent) != clockSamples+1 || server.sent[clockSamples].Type != control.TypeClockDone {
		t.Fatalf("after %d answers gorun sent %+v, want clock-done last", clockSamples, server.sent)
	}
	server.sent = nil
	tc.onEvent(server, control.Event{Rank: 1, Msg: control.Message{Type: control.TypeHello}})
	tc.onEvent(server, control.Event{Rank: 1, Msg: control.Message{Type: control.TypeClockReply, Round: 7}})
	if len(server.sent) != 2 || server.sent[1].Type != control.TypeClockDone {
		t.Fatalf("after an answer out of turn gorun sent %+v, want clock-done", server.sent)
	}
}

// TestTraceClockWaitEndsTheExchanges: a rank that says it still waits for
// clock-done at Finalize (a question, its answer or the clock-done was lost
// on the way) gets clock-done, whether an exchange was in progress or over,
// and a late answer after it asks nothing more.
func TestTraceClockWaitEndsTheExchanges(t *testing.T) {
	tc, err := newTraceCollector(filepath.Join(t.TempDir(), "t.json"), 2, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	server := &sentMessages{}
	// Rank 0: its second question (or the answer) is lost.
	tc.onEvent(server, control.Event{Rank: 0, Msg: control.Message{Type: control.TypeHello}})
	tc.onEvent(server, control.Event{Rank: 0, Msg: control.Message{Type: control.TypeClockReply, Round: 1, Clock: 5}})
	server.sent = nil
	tc.onEvent(server, control.Event{Rank: 0, Msg: control.Message{Type: control.TypeClockWait}})
	if len(server.sent) != 1 || server.sent[0].Type != control.TypeClockDone {
		t.Fatalf("a rank waiting amid the exchanges got %+v, want clock-done", server.sent)
	}
	server.sent = nil
	tc.onEvent(server, control.Event{Rank: 0, Msg: control.Message{Type: control.TypeClockReply, Round: 2, Clock: 6}})
	if slices.ContainsFunc(server.sent, func(m control.Message) bool { return m.Type == control.TypeClock }) {
		t.Fatalf("a late answer after the exchanges ended brought %+v", server.sent)
	}
	if n := len(tc.ranks[0].samples); n != 1 {
		t.Fatalf("%d clock samples kept, want the one answered in turn", n)
	}
	// Rank 1: every exchange done, the clock-done lost: said again.
	tc.onEvent(server, control.Event{Rank: 1, Msg: control.Message{Type: control.TypeHello}})
	for round := 1; round <= clockSamples; round++ {
		tc.onEvent(server, control.Event{Rank: 1, Msg: control.Message{Type: control.TypeClockReply, Round: uint64(round), Clock: 5}})
	}
	server.sent = nil
	tc.onEvent(server, control.Event{Rank: 1, Msg: control.Message{Type: control.TypeClockWait}})
	if len(server.sent) != 1 || server.sent[0].Type != control.TypeClockDone {
		t.Fatalf("a rank whose clock-done was lost got %+v, want clock-done again", server.sent)
	}
}

// TestTraceWriteCutsAnOlderFile: the trace is written over an older,
// longer file, which ends where the trace ends.
func TestTraceWriteCutsAnOlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.json")
	if err := os.WriteFile(path, []byte(strings.Repeat("an older trace\n", 100000)), 0o644); err != nil {
		t.Fatal(err)
	}
	tc, err := newTraceCollector(path, 1, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	tc.ranks[0].hello, tc.ranks[0].ended = true, true
	tc.ranks[0].records = []trace.Record{{Op: "Barrier", Start: 10, End: 20}}
	if _, err := tc.write("t"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) || strings.Contains(string(data), "older") {
		t.Fatalf("the file is not the trace alone (%d bytes): %.200q", len(data), data)
	}
}

// TestTraceNoClockQuestionsForItsOwnRanks: a rank gorun started itself
// reads gorun's clock; its hello gets clock-done at once, no question, and
// its offset is 0.
func TestTraceNoClockQuestionsForItsOwnRanks(t *testing.T) {
	tc, err := newTraceCollector(filepath.Join(t.TempDir(), "t.json"), 2, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	tc.started(1, nil)
	server := &sentMessages{}
	tc.onEvent(server, control.Event{Rank: 1, Msg: control.Message{Type: control.TypeHello}})
	if len(server.sent) != 1 || server.sent[0].Type != control.TypeClockDone {
		t.Fatalf("gorun sent its own rank %+v, want clock-done alone", server.sent)
	}
	if off, how := tc.offset(tc.ranks[1]); off != 0 || !strings.Contains(how, "started by gorun") {
		t.Fatalf("its own rank's offset: %d (%s)", off, how)
	}
	server.sent = nil
	tc.onEvent(server, control.Event{Rank: 0, Msg: control.Message{Type: control.TypeHello}})
	if len(server.sent) != 1 || server.sent[0].Type != control.TypeClock {
		t.Fatalf("gorun sent a rank started elsewhere %+v, want a clock question", server.sent)
	}
}

// TestTraceReadAtFinalize: the records of a rank that closed its buffer
// are read when it says so (trace-closed, before its goodbyes to its
// peers) or that it finalized, before it exits; those of one still
// recording are left for its exit.
func TestTraceReadAtFinalize(t *testing.T) {
	for _, says := range []string{control.TypeTraceClosed, control.TypeFinalized} {
		testTraceReadAtFinalize(t, says)
	}
}

func testTraceReadAtFinalize(t *testing.T, says string) {
	tc, err := newTraceCollector(filepath.Join(t.TempDir(), "t.json"), 2, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for rank := range 2 {
		f, buf, _ := testRankBuffer(t, tc)
		buf.End(buf.Begin("Barrier", 0, 10, trace.Wait{}), 20, nil, false, "")
		if rank == 0 {
			buf.Close(30)
		}
		tc.started(rank, f)
	}
	server := &sentMessages{}
	for rank := range 2 {
		ours := tc.onEvent(server, control.Event{Rank: rank, Msg: control.Message{Type: says}})
		if ours != (says == control.TypeTraceClosed) {
			t.Fatalf("%s: onEvent says it is tracing's alone: %v", says, ours)
		}
	}
	if r := tc.ranks[0]; r.buffer != nil || !r.fromBuffer || len(r.records) != 1 || r.records[0].Op != "Barrier" {
		t.Fatalf("%s: rank 0 closed its buffer: read %v, records %+v", says, r.buffer == nil, r.records)
	}
	if r := tc.ranks[1]; r.buffer == nil || r.fromBuffer {
		t.Fatalf("%s: rank 1's buffer, still open, was read", says)
	}
	tc.exited(1)
	if r := tc.ranks[1]; r.buffer != nil || len(r.records) != 1 {
		t.Fatalf("rank 1's records at its exit: %+v", r.records)
	}
}

// TestTraceWritesLanesEarly: once every rank has recorded its first call,
// a JSON trace's lane of a rank that finalized is written at once, while
// the others run; the file in the end is the job's whole trace, its zero
// the earliest call. When the zero moves after all (a rank's first call
// turns out to make no record: the earliest call is then a later one), the
// file is written anew, right.
func TestTraceWritesLanesEarly(t *testing.T) {
	for _, moved := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "t.json")
		const np = 3
		tc, err := newTraceCollector(path, np, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		var firstOp *byte // the code of rank 0's first call, in its buffer's memory
		for rank := range np {
			f, buf, mem := testRankBuffer(t, tc)
			for i := range 4 { // rank r's calls start at 1000*(r+1) + 100*i
				start := int64(1000*(rank+1) + 100*i)
				buf.End(buf.Begin("Barrier", 0, start, trace.Wait{}), start+50, nil, false, "")
			}
			if rank == 0 {
				firstOp = &mem[trace.LogStart+1] // after the entry's kind
			}
			if rank == 1 {
				buf.Close(5000)
			}
			tc.started(rank, f)
		}
		server := &sentMessages{}
		for rank := range np {
			tc.onEvent(server, control.Event{Rank: rank, Msg: control.Message{Type: control.TypeHello}})
		}
		tc.onEvent(server, control.Event{Rank: 1, Msg: control.Message{Type: control.TypeFinalized}})
		if !tc.ranks[1].written || tc.early == nil {
			t.Fatal("rank 1 finalized with every rank's first call recorded: its lane was not written")
		}
		if moved {
			*firstOp = 200 // rank 0's earliest call: not a record after all
		}
		tc.exited(0)
		tc.exited(2)
		if _, err := tc.write("t"); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			TraceEvents []struct {
				Ph  string  `json:"ph"`
				Tid int     `json:"tid"`
				Ts  float64 `json:"ts"`
			} `json:"traceEvents"`
		}
		if err := json.Unmarshal(data, &file); err != nil {
			t.Fatalf("moved %v: the trace is not JSON: %v", moved, err)
		}
		first := 1000.0 // rank 0's first call, in ns
		if moved {
			first = 1100
		}
		var got []float64
		for _, e := range file.TraceEvents {
			if e.Ph == "X" {
				got = append(got, math.Round(e.Ts*1000)+first) // back to ns on the ranks' clock
			}
		}
		slices.Sort(got)
		var want []float64
		for rank := range np {
			for i := range 4 {
				if start := float64(1000*(rank+1) + 100*i); start >= first {
					want = append(want, start)
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("moved %v: calls at %v, want %v", moved, got, want)
		}
	}
}

// testRankBuffer makes a rank's trace buffer as gorun does (a shared
// memory file of tc's limit, newBuffer) and maps it here as the rank would,
// for the test to record into (and to scribble over: mem); it skips the
// test where there is no shared memory.
func testRankBuffer(t *testing.T, tc *traceCollector) (*os.File, *trace.Buffer, []byte) {
	t.Helper()
	size := trace.BufferSize(jobenv.TraceSlots(tc.limit))
	f, err := shm.Create("test-trace", int64(size))
	if err != nil {
		t.Skip(err)
	}
	keep, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	region, err := shm.Map(keep, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { region.Close() })
	buf, err := trace.NewBuffer(region.Bytes(), jobenv.TraceSlots(tc.limit))
	if err != nil {
		t.Fatal(err)
	}
	return f, buf, region.Bytes()
}
