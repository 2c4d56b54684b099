package main

import (
	"strings"
	"syscall"
	"testing"

	"github.com/gorun-mpi/gorun/internal/control"
)

func newTestState(np int) *jobState {
	j := newJobState(np)
	for i := 0; i < np; i++ {
		j.started(i, 1000+i)
	}
	return j
}

func hello(j *jobState, ranks ...int) {
	for _, r := range ranks {
		j.message(r, control.Message{Type: control.TypeHello})
	}
}

func wantFailure(t *testing.T, f *failure, reason string, status int) {
	t.Helper()
	if f == nil {
		t.Fatalf("no failure, want %q (status %d)", reason, status)
	}
	if f.reason != reason || f.status != status {
		t.Fatalf("failure = %q (status %d), want %q (status %d)", f.reason, f.status, reason, status)
	}
}

func TestJudgeExits(t *testing.T) {
	cases := []struct {
		name     string
		init     bool
		finalize bool
		exit     exitInfo
		reason   string
		status   int
	}{
		{"clean", true, true, exitInfo{}, "", 0},
		{"no mpi at all", false, false, exitInfo{}, "", 0},
		{"status", true, true, exitInfo{code: 3}, "rank 1 (pid 1001) exited with status 3", 3},
		{"status without init", false, false, exitInfo{code: 2}, "rank 1 (pid 1001) exited with status 2", 2},
		{"signal", true, false, exitInfo{signaled: true, signal: syscall.SIGSEGV}, "rank 1 (pid 1001) killed by signal SIGSEGV", 139},
		{"odd signal", false, false, exitInfo{signaled: true, signal: 40}, "rank 1 (pid 1001) killed by signal signal 40", 168},
		{"no finalize", true, false, exitInfo{}, "rank 1 (pid 1001) exited without calling mpi.Finalize", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := newTestState(2)
			if tc.init {
				hello(j, 1)
			}
			if tc.finalize {
				j.message(1, control.Message{Type: control.TypeFinalized})
			}
			f, wait := j.exited(1, tc.exit)
			if !wait || f != nil {
				t.Fatalf("exited = %v, %v; want no verdict before the last messages had their chance", f, wait)
			}
			f = j.graceOver(1)
			if tc.reason == "" {
				if f != nil {
					t.Fatalf("unexpected failure %+v", f)
				}
				return
			}
			wantFailure(t, f, tc.reason, tc.status)
		})
	}
}

// The rank's last messages may arrive after its exit: a Finalize that is
// still in flight must not be mistaken for a missing Finalize, and an Abort
// must win over the exit status it caused.
func TestLateMessagesBeatTheExit(t *testing.T) {
	j := newTestState(2)
	hello(j, 0, 1)
	if f, wait := j.exited(0, exitInfo{}); f != nil || !wait {
		t.Fatalf("exited = %v, %v; want no verdict yet", f, wait)
	}
	if j.done() {
		t.Fatal("done before the exited rank was judged")
	}
	j.message(0, control.Message{Type: control.TypeFinalized})
	if f := j.connClosed(0); f != nil {
		t.Fatalf("finalized rank judged as %+v", f)
	}

	if f, _ := j.exited(1, exitInfo{code: 7}); f != nil {
		t.Fatalf("verdict %+v before the connection closed", f)
	}
	f := j.message(1, control.Message{Type: control.TypeAbort, Code: 7, Reason: "bad input"})
	wantFailure(t, f, "rank 1 (pid 1001) called mpi.Abort(7): bad input", 7)
	if f := j.connClosed(1); f != nil {
		t.Fatalf("abort reported twice: %+v", f)
	}
	if !j.done() || !j.allExited() {
		t.Fatal("job not done after both ranks were judged")
	}
}

func TestAbortCodeOutOfRange(t *testing.T) {
	for _, code := range []int{0, -1, 256} {
		j := newTestState(1)
		hello(j, 0)
		f := j.message(0, control.Message{Type: control.TypeAbort, Code: code, Reason: "r"})
		if f == nil || f.status != 1 {
			t.Errorf("Abort(%d) gave %+v, want status 1", code, f)
		}
	}
}

// A hello that reaches the launcher only after the rank's exit was judged
// (still in the listen queue) is judged again when its connection ends.
func TestHelloAfterExit(t *testing.T) {
	j := newTestState(1)
	if f, wait := j.exited(0, exitInfo{}); f != nil || !wait {
		t.Fatalf("exited = %v, %v", f, wait)
	}
	hello(j, 0)
	wantFailure(t, j.connClosed(0), "rank 0 (pid 1000) exited without calling mpi.Finalize", 1)
	if f := j.graceOver(0); f != nil {
		t.Fatalf("judged twice: %+v", f)
	}
}

// A rank that said hello and Abort and exited before the launcher read
// either: the Abort, read late, still names the cause.
func TestAbortReadAfterTheExit(t *testing.T) {
	j := newTestState(1)
	if f, wait := j.exited(0, exitInfo{code: 2}); f != nil || !wait {
		t.Fatalf("exited = %v, %v", f, wait)
	}
	hello(j, 0)
	f := j.message(0, control.Message{Type: control.TypeAbort, Code: 2, Reason: "needs 2 ranks"})
	wantFailure(t, f, "rank 0 (pid 1000) called mpi.Abort(2): needs 2 ranks", 2)
	if f := j.connClosed(0); f != nil {
		t.Fatalf("judged twice: %+v", f)
	}
	if f := j.graceOver(0); f != nil {
		t.Fatalf("judged twice: %+v", f)
	}
}

func blocked(j *jobState, rank int, op string, sent, received []uint64) {
	j.message(rank, control.Message{Type: control.TypeBlocked, Op: op, Sent: sent, Received: received})
}

func TestDeadlockDetection(t *testing.T) {
	j := newTestState(3)
	hello(j, 0, 1, 2)
	if _, _, ok := j.deadlock(); ok {
		t.Fatal("deadlock with every rank running")
	}
	blocked(j, 0, "Recv(source 1, tag 0)", []uint64{0, 0, 1}, []uint64{0, 0, 0})
	blocked(j, 1, "Recv(source 0, tag 0)", nil, nil)
	if _, _, ok := j.deadlock(); ok {
		t.Fatal("deadlock while rank 2 runs")
	}
	// Rank 2 blocks, but the frame rank 0 sent it is not received yet.
	blocked(j, 2, "Recv(source 0, tag 5)", []uint64{0, 0, 0}, []uint64{0, 0, 0})
	if _, _, ok := j.deadlock(); ok {
		t.Fatal("deadlock while a frame is in flight")
	}
	blocked(j, 2, "Recv(source 0, tag 5)", []uint64{0, 0, 0}, []uint64{1, 0, 0})
	desc, fp, ok := j.deadlock()
	if !ok {
		t.Fatal("no deadlock with every rank blocked and nothing in flight")
	}
	want := "every rank is blocked: rank 0 in Recv(source 1, tag 0); rank 1 in Recv(source 0, tag 0); rank 2 in Recv(source 0, tag 5)"
	if desc != want {
		t.Fatalf("desc = %q, want %q", desc, want)
	}
	// Only a round of confirms that every live rank answers yes decides.
	if j.confirmedAll(1) {
		t.Fatal("round 1 confirmed before anyone answered")
	}
	for _, r := range []int{0, 1} {
		j.message(r, control.Message{Type: control.TypeConfirmed, Round: 1, OK: true})
	}
	j.message(2, control.Message{Type: control.TypeConfirmed, Round: 1, OK: false})
	if j.confirmedAll(1) {
		t.Fatal("round 1 confirmed although rank 2 said no")
	}
	j.message(2, control.Message{Type: control.TypeConfirmed, Round: 1, OK: true})
	if !j.confirmedAll(1) {
		t.Fatal("round 1 not confirmed after every rank said yes")
	}
	// A rank waking up ends it; blocked again in the same call, it is a new
	// candidate (a round asked about the old report proves nothing of it).
	j.message(1, control.Message{Type: control.TypeRunning})
	if _, _, ok := j.deadlock(); ok {
		t.Fatal("deadlock while rank 1 runs")
	}
	blocked(j, 1, "Recv(source 0, tag 0)", nil, nil)
	if _, fp2, ok := j.deadlock(); !ok || fp2 == fp {
		t.Fatalf("same fingerprint %q after a new report (ok %v)", fp2, ok)
	}
}

func TestDeadlockCountsExitedRanks(t *testing.T) {
	j := newTestState(2)
	hello(j, 0, 1)
	// Rank 0 finished after sending one frame to rank 1 (its last report
	// says so); rank 1 received it and now waits for more.
	j.message(0, control.Message{Type: control.TypeFinalized, Sent: []uint64{0, 1}, Received: []uint64{0, 0}})
	j.exited(0, exitInfo{})
	j.connClosed(0)
	blocked(j, 1, "Recv(source 0, tag 0)", []uint64{0, 0}, []uint64{1, 0})
	desc, _, ok := j.deadlock()
	if !ok || !strings.HasPrefix(desc, "every rank still running is blocked: rank 1 in") {
		t.Fatalf("deadlock = %q, %v", desc, ok)
	}
	// A rank that never called Init keeps the job alive: it may be computing.
	j2 := newTestState(2)
	hello(j2, 0)
	blocked(j2, 0, "Recv(source 1, tag 0)", nil, nil)
	if _, _, ok := j2.deadlock(); ok {
		t.Fatal("deadlock while a rank that never called Init runs")
	}
}

func TestStillRunning(t *testing.T) {
	j := newTestState(3)
	hello(j, 0, 1, 2)
	blocked(j, 0, "Barrier", nil, nil)
	j.message(2, control.Message{Type: control.TypeFinalized})
	lines := strings.Join(j.stillRunning(), "\n")
	for _, want := range []string{"rank 0 (pid 1000) was blocked in Barrier", "rank 1 (pid 1001) was running", "rank 2 (pid 1002) had called mpi.Finalize"} {
		if !strings.Contains(lines, want) {
			t.Errorf("stillRunning() = %q, missing %q", lines, want)
		}
	}
	j.exited(0, exitInfo{code: 1})
	if strings.Contains(strings.Join(j.stillRunning(), "\n"), "rank 0") {
		t.Error("an exited rank is reported as still running")
	}
}

func TestNeverStarted(t *testing.T) {
	j := newTestState(3)
	j.neverStarted(1)
	if j.allExited() {
		t.Fatal("rank 0 was started and has not exited")
	}
	j.exited(0, exitInfo{})
	j.graceOver(0)
	if !j.done() {
		t.Fatal("ranks never started should count as gone")
	}
}

// TestExitNotJudgedYetHoldsDeadlockBack: ranks waiting in shared memory for
// a peer that just died look deadlocked; the dead rank's exit, judged a
// moment later, is the cause to report.
func TestExitNotJudgedYetHoldsDeadlockBack(t *testing.T) {
	j := newTestState(3)
	hello(j, 0, 1, 2)
	blocked(j, 0, "AllreduceSlice(waiting in shared memory)", nil, nil)
	blocked(j, 1, "AllreduceSlice(waiting in shared memory)", nil, nil)
	j.exited(2, exitInfo{code: 3})
	if desc, _, ok := j.deadlock(); ok {
		t.Fatalf("deadlock %q reported before rank 2's exit was judged", desc)
	}
	wantFailure(t, j.graceOver(2), "rank 2 (pid 1002) exited with status 3", 3)
}

// A rank whose control connection ended before its exit was seen has said
// all it will: it is judged at once, with no grace period.
func TestExitAfterConnectionEndIsJudgedAtOnce(t *testing.T) {
	j := newTestState(2)
	hello(j, 0, 1)
	j.message(0, control.Message{Type: control.TypeFinalized})
	if f := j.connClosed(0); f != nil {
		t.Fatalf("connClosed before the exit judged: %+v", f)
	}
	if f, wait := j.exited(0, exitInfo{}); f != nil || wait {
		t.Fatalf("exited = %v, %v; want a clean verdict at once", f, wait)
	}
	j.connClosed(1)
	f, wait := j.exited(1, exitInfo{})
	if wait {
		t.Fatal("rank 1 waits for a connection that already ended")
	}
	wantFailure(t, f, "rank 1 (pid 1001) exited without calling mpi.Finalize", 1)
	if !j.done() {
		t.Fatal("job not done")
	}
}

// A rank never heard from is judged when the control server has read every
// connection made before the exit (synced); one heard from meanwhile waits
// for its connection's end instead.
func TestSyncedJudgesRanksNeverHeardFrom(t *testing.T) {
	j := newTestState(2)
	if _, wait := j.exited(0, exitInfo{code: 4}); !wait {
		t.Fatal("rank 0 judged before the sync")
	}
	wantFailure(t, j.synced(0), "rank 0 (pid 1000) exited with status 4", 4)

	j.exited(1, exitInfo{code: 2})
	hello(j, 1) // read just before the sync answered
	if f := j.synced(1); f != nil {
		t.Fatalf("synced judged a rank whose connection is open: %+v", f)
	}
	f := j.message(1, control.Message{Type: control.TypeAbort, Code: 2, Reason: "needs 2 ranks"})
	wantFailure(t, f, "rank 1 (pid 1001) called mpi.Abort(2): needs 2 ranks", 2)
	if f := j.connClosed(1); f != nil {
		t.Fatalf("judged twice: %+v", f)
	}
	if f := j.synced(1); f != nil || !j.done() {
		t.Fatalf("late sync: %+v, done %v", f, j.done())
	}
}
