package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// TestTraceOfARankThatDies: a rank that dies on its own inside a call
// (a panic in its Allreduce's operator, os.Exit(3) there, or SIGKILL from
// outside while it is there) leaves its records: the trace holds its calls
// up to its death, the arrows of its messages, and its last call, the
// Allreduce, marked unfinished. gorun reads them from the shared memory
// the rank recorded into; before that, a rank that died took them along.
func TestTraceOfARankThatDies(t *testing.T) {
	for _, transport := range jobenv.Transports() {
		for _, how := range []string{"panic", "exit", "kill"} {
			t.Run(transport+"/"+how, func(t *testing.T) { traceOfARankThatDies(t, transport, how) })
		}
	}
}

func traceOfARankThatDies(t *testing.T, transport, how string) {
	const np, rounds = 2, 3
	dir := t.TempDir()
	path := filepath.Join(dir, "t.json")
	args := []string{"-how", how, "-victim", "1", "-rounds", strconv.Itoa(rounds)}
	if how == "kill" {
		// The victim writes its pid into a FIFO once inside the call;
		// reading it is the fact that it is there.
		fifo := filepath.Join(dir, "ready")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		args = []string{"-how", "block", "-victim", "1", "-rounds", strconv.Itoa(rounds), "-ready", fifo}
		killed := make(chan error, 1)
		go func() {
			b, err := os.ReadFile(fifo)
			pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
			switch {
			case err != nil:
				killed <- err
			case perr != nil:
				killed <- fmt.Errorf("no pid from the victim: %q", b)
			default:
				killed <- syscall.Kill(pid, syscall.SIGKILL)
			}
		}()
		defer func() {
			// If the victim never wrote, end the reader: open for writing
			// (without blocking) and close.
			if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			if err := <-killed; err != nil {
				t.Errorf("killing the victim: %v", err)
			}
		}()
	}
	res := runGorun(t, job{np: np, flags: []string{"--transport", transport, "--trace", path}, prog: "tracedeath", args: args})
	checkDeathTrace(t, path, res.code, res.stderr, how, np, rounds)
	noProcessLeft(t, res)
}

// TestMultihostTraceOfARankThatDies: across hosts (a:1,b:1), rank 1 dies
// inside its Allreduce on b; b's agent reads the records it left in the
// buffer the agent gave it and relays them, so the trace holds them, the
// Allreduce unfinished, as on one host.
func TestMultihostTraceOfARankThatDies(t *testing.T) {
	t.Parallel()
	r := newHostsRig(t, map[string]int{"a": 1, "b": 1})
	for _, how := range []string{"panic", "exit"} {
		t.Run(how, func(t *testing.T) {
			const np, rounds = 2, 3
			path := filepath.Join(t.TempDir(), "t.json")
			_, stderr, code := r.launch(t, "-np", "2", "--nats", r.URL(), "--hosts", "a:1,b:1", "--trace", path,
				bin("tracedeath"), "-how", how, "-victim", "1", "-rounds", strconv.Itoa(rounds))
			checkDeathTrace(t, path, code, stderr, how, np, rounds)
		})
	}
}

// checkDeathTrace checks the trace of a tracedeath job of np ranks whose
// rank 1 died inside its Allreduce after rounds rounds of the ring.
func checkDeathTrace(t *testing.T, path string, code int, stderr, how string, np, rounds int) {
	t.Helper()
	if code == 0 {
		t.Fatalf("exit 0 though rank 1 died\nstderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "without handing over its trace") {
		t.Fatalf("gorun lost the dead rank's records:\n%s", stderr)
	}
	tracks, calls, events := readTrace(t, path, np)
	checkFlows(t, tracks, calls, events)
	list := calls[1]
	var names []string
	for _, c := range list {
		names = append(names, c.Name)
	}
	want := append(strings.Fields(strings.Repeat("Sendrecv ", rounds)), "Barrier", "Allreduce")
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("rank 1 recorded %v, want %v\nstderr:\n%s", names, want, stderr)
	}
	for i, c := range list {
		if unfinished := c.Args["unfinished"] == true; unfinished != (i == len(list)-1) {
			t.Fatalf("rank 1's call %d (%s %v): unfinished %v", i, c.Name, c.Args, unfinished)
		}
	}
	last := list[len(list)-1]
	if how == "panic" && !strings.Contains(fmt.Sprint(last.Args["note"]), "panicked: tracedeath: dying inside Allreduce") {
		t.Fatalf("rank 1's last call does not say it panicked: %v", last.Args)
	}
	// Every rank's Sendrecv sent a message round the ring each round.
	arrows := 0
	for _, e := range events {
		if e.Ph == "s" {
			arrows++
		}
	}
	if arrows != np*rounds {
		t.Fatalf("%d arrows, want %d (a message from each rank per round)", arrows, np*rounds)
	}
}
