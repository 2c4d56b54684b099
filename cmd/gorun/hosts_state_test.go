package main

import (
	"testing"

	"github.com/gorun-mpi/gorun/internal/control"
)

// TestLostRankIsJudgedAtOnce: a rank whose host was lost is judged at
// once, with the host's line, even though its control connection never
// closed (nothing will ever close it).
func TestLostRankIsJudgedAtOnce(t *testing.T) {
	st := newJobState(2)
	st.startedOn(0, 100, "a")
	st.startedOn(1, 200, "b")
	st.message(1, control.Message{Type: control.TypeHello})
	if got := st.who(1); got != "rank 1 (pid 200 on b)" {
		t.Errorf("who = %q", got)
	}
	f, wait := st.exited(1, exitInfo{code: 1, lost: "lost agent b (rank 1): no heartbeat for 3s"})
	if wait || f == nil || f.reason != "lost agent b (rank 1): no heartbeat for 3s" || f.status != 1 {
		t.Fatalf("exited(lost) = %+v, wait %v", f, wait)
	}
}
