// Command slowsched says what the scheduler did during each slow call that
// bench/ops -slowcalls wrote, from perf's record of the machine's
// scheduler events over the same run:
//
//	perf record -k CLOCK_MONOTONIC -a -e sched:sched_switch,sched:sched_wakeup -o sched.data -- \
//	    gorun -np 2 ops -kind pingpong -sizes 8 -slowcalls /tmp/slow
//	perf script -i sched.data --ns -F comm,pid,tid,cpu,time,event,trace > sched.txt
//	go run ./ops/slowsched -sched sched.txt /tmp/slow.*
//
// Each slow call gets the first class that fits what happened between its
// start and its end, on any CPU:
//
//   - foreign: a rank's thread was preempted (left its CPU runnable) for a
//     process that is not a rank: the machine's load;
//   - own: a rank's thread was preempted for another thread of a rank,
//     such as the Go runtime's monitor thread (sysmon) or another M;
//   - slept: a rank's thread went to sleep (the rank parked, or a runtime
//     thread of a rank ran on an idle CPU and slept again);
//   - none: no scheduler event at all: what the calls themselves cost
//     (allocation, cache misses), or what the guest cannot see (a
//     hypervisor's preemption, interrupts).
//
// For every loop, rank (process id), class and bucket of the call's wall
// time it prints the calls, their wall time in microseconds, and that time
// per call of the loop: how much of the loop's mean the class accounts for
// (in wall time: a ping-pong's round trip, twice the one-way figures of
// the table).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

func main() {
	schedFile := flag.String("sched", "", "perf script output (-F comm,pid,tid,cpu,time,event,trace) of sched:sched_switch and sched:sched_wakeup recorded with -k CLOCK_MONOTONIC")
	flag.Parse()
	if *schedFile == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: slowsched -sched sched.txt SLOWCALLS.0 SLOWCALLS.1 ...")
		os.Exit(2)
	}
	if err := run(*schedFile, flag.Args(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "slowsched:", err)
		os.Exit(1)
	}
}

func run(schedFile string, callFiles []string, out io.Writer) error {
	var calls []call
	for _, name := range callFiles {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		cs, err := readCalls(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		calls = append(calls, cs...)
	}
	f, err := os.Open(schedFile)
	if err != nil {
		return err
	}
	defer f.Close()
	events, err := readEvents(f)
	if err != nil {
		return fmt.Errorf("%s: %w", schedFile, err)
	}
	report(out, summarize(calls, events))
	return nil
}

// call is one line of a -slowcalls file.
type call struct {
	label      string // operation/size
	calls      int    // calls in the call's loop
	pid        int    // the rank's process
	start, end int64  // CLOCK_MONOTONIC, ns
}

// readCalls reads the lines bench/ops -slowcalls writes: label, index,
// calls in the loop, process id, start and end in nanoseconds.
func readCalls(r io.Reader) ([]call, error) {
	var calls []call
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) != 6 {
			return nil, fmt.Errorf("line %d: %d fields, want 6 (label index calls pid start end)", n, len(f))
		}
		var v [4]int64
		for i, s := range f[2:] {
			x, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			v[i] = x
		}
		if v[3] < v[2] {
			return nil, fmt.Errorf("line %d: the call ends before it starts", n)
		}
		calls = append(calls, call{label: f[0], calls: int(v[0]), pid: int(v[1]), start: v[2], end: v[3]})
	}
	return calls, sc.Err()
}

// event is one scheduler event of perf script's output.
type event struct {
	at       int64 // ns
	pid, tid int   // the task that was running (a switch's prev)
	switched bool  // sched_switch (else sched_wakeup)
	// For a switch: the previous task's state (R: preempted) and the next
	// task's thread id.
	prevState string
	next      int
}

// readEvents parses perf script lines such as
//
//	ops 934/939 [001] 50342.086979307: sched:sched_switch: prev_comm=ops prev_pid=939 prev_prio=120 prev_state=R ==> next_comm=ops next_pid=938 next_prio=120
//
// (commands may hold spaces; the time may have 6 or 9 decimals). Lines of
// other events are skipped. The events come back sorted by time.
func readEvents(r io.Reader) ([]event, error) {
	var events []event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		kind := ""
		switch {
		case strings.Contains(line, " sched:sched_switch:"):
			kind = "switch"
		case strings.Contains(line, " sched:sched_wakeup:"):
			kind = "wakeup"
		default:
			continue
		}
		cpuAt := strings.Index(line, " [")
		if cpuAt < 0 {
			continue
		}
		head := strings.Fields(line[:cpuAt])
		rest := strings.Fields(line[cpuAt:])
		if len(head) < 2 || len(rest) < 2 {
			continue
		}
		pidTid := strings.SplitN(head[len(head)-1], "/", 2)
		if len(pidTid) != 2 {
			continue
		}
		pid, err1 := strconv.Atoi(pidTid[0])
		tid, err2 := strconv.Atoi(pidTid[1])
		at, err3 := parseSeconds(strings.TrimSuffix(rest[1], ":"))
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("cannot read %q", line)
		}
		e := event{at: at, pid: pid, tid: tid, switched: kind == "switch"}
		if e.switched {
			e.prevState = field(line, "prev_state=")
			e.next, _ = strconv.Atoi(field(line, "next_pid="))
		}
		events = append(events, e)
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].at < events[j].at })
	return events, sc.Err()
}

// field returns the value after key in a trace, up to the next space.
func field(line, key string) string {
	i := strings.LastIndex(line, key)
	if i < 0 {
		return ""
	}
	v := line[i+len(key):]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}

// parseSeconds reads "50342.086979307" (or 6 decimals) as nanoseconds.
func parseSeconds(s string) (int64, error) {
	sec, frac, _ := strings.Cut(s, ".")
	whole, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, err
	}
	if len(frac) > 9 {
		frac = frac[:9]
	}
	f, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	if err != nil {
		return 0, err
	}
	return whole*1e9 + f, nil
}

// Classes, in the order they are tried.
const (
	classForeign = "foreign"
	classOwn     = "own"
	classSlept   = "slept"
	classNone    = "none"
)

// bucketBounds are the upper bounds, in microseconds of wall time, of the
// buckets a call's time falls in; the last takes the rest.
var bucketBounds = []float64{8, 32, 128, 1000}

func bucketName(i int) string {
	if i < len(bucketBounds) {
		return fmt.Sprintf("<%gus", bucketBounds[i])
	}
	return fmt.Sprintf(">=%gus", bucketBounds[len(bucketBounds)-1])
}

// key is one row of the report.
type key struct {
	label, class string
	pid, bucket  int
}

// tally is a row's figures.
type tally struct {
	calls  int
	micros float64
}

// summary is what summarize found, with each loop's number of calls.
type summary struct {
	rows  map[key]tally
	loops map[string]int
}

// summarize classifies every call by the events within it.
func summarize(calls []call, events []event) summary {
	ranks := map[int]bool{}
	for _, c := range calls {
		ranks[c.pid] = true
	}
	// A switch names the next task by thread id only: learn each
	// thread's process from the events it was running for.
	process := map[int]int{}
	for _, e := range events {
		process[e.tid] = e.pid
	}
	isRank := func(tid int) bool { return ranks[process[tid]] }
	s := summary{rows: map[key]tally{}, loops: map[string]int{}}
	for _, c := range calls {
		s.loops[c.label] = max(s.loops[c.label], c.calls)
		i := sort.Search(len(events), func(i int) bool { return events[i].at >= c.start })
		class := classNone
		for ; i < len(events) && events[i].at <= c.end; i++ {
			e := events[i]
			if !e.switched || !ranks[e.pid] {
				continue // only what happened to a rank's thread counts
			}
			switch {
			case e.prevState == "R" && e.next != 0 && !isRank(e.next):
				class = classForeign
			case e.prevState == "R" && isRank(e.next) && class != classForeign:
				class = classOwn
			case e.prevState != "R" && class == classNone:
				class = classSlept
			}
		}
		us := float64(c.end-c.start) / 1e3
		b := sort.SearchFloat64s(bucketBounds, us)
		if b < len(bucketBounds) && bucketBounds[b] == us {
			b++
		}
		k := key{c.label, class, c.pid, b}
		t := s.rows[k]
		t.calls++
		t.micros += us
		s.rows[k] = t
	}
	return s
}

// report prints the rows by loop, class and bucket.
func report(w io.Writer, s summary) {
	keys := make([]key, 0, len(s.rows))
	for k := range s.rows {
		keys = append(keys, k)
	}
	order := map[string]int{classForeign: 0, classOwn: 1, classSlept: 2, classNone: 3}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.label != b.label {
			return a.label < b.label
		}
		if a.pid != b.pid {
			return a.pid < b.pid
		}
		if a.class != b.class {
			return order[a.class] < order[b.class]
		}
		return a.bucket < b.bucket
	})
	fmt.Fprintf(w, "%-20s %8s %-8s %-9s %7s %12s %14s\n", "loop", "pid", "class", "wall", "calls", "time_us", "us_per_call")
	for _, k := range keys {
		t := s.rows[k]
		perCall := 0.0
		if n := s.loops[k.label]; n > 0 {
			perCall = t.micros / float64(n)
		}
		fmt.Fprintf(w, "%-20s %8d %-8s %-9s %7d %12.1f %14.4f\n", k.label, k.pid, k.class, bucketName(k.bucket), t.calls, t.micros, perCall)
	}
}
