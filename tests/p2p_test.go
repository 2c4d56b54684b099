package tests

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// transport is one of gorun's transports and the flags that choose it.
type transport struct {
	name  string
	flags []string
}

// transports are the transports the suites run on: every one gorun has.
var transports = func() []transport {
	var out []transport
	for _, name := range jobenv.Transports() {
		out = append(out, transport{name, []string{"--transport", name}})
	}
	return out
}()

// TestPointToPoint runs every point-to-point call across real processes on
// each transport at -np 1 to 4, and at 5 (more ranks than cores).
func TestPointToPoint(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { testPointToPoint(t, tr.flags) })
	}
}

func testPointToPoint(t *testing.T, flags []string) {
	for _, np := range []int{1, 2, 3, 4, 5} {
		t.Run(fmt.Sprint("np=", np), func(t *testing.T) {
			t.Parallel()
			expectPointToPoint(t, np, runGorun(t, job{np: np, prog: "p2p", flags: flags}))
		})
	}
}

// p2pChecks are the checks tests/progs/p2p prints per rank, each with the
// smallest np that runs it.
var p2pChecks = map[string]int{
	"self": 1, "errors": 1, "sendrecv-ring": 1, "send-recv-types": 2, "order": 2, "ssend": 2,
	"large": 2, "nonblocking": 2, "probe": 2, "type-mismatch": 2, "any-source": 2,
}

// expectPointToPoint fails the test unless every rank passed every check
// of the point-to-point suite that runs at np.
func expectPointToPoint(t *testing.T, np int, res result) {
	t.Helper()
	if res.code != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	for name, min := range p2pChecks {
		want := 0
		if np >= min {
			want = np
		}
		if got := strings.Count(res.stdout, " ok "+name+"\n"); got != want {
			t.Errorf("check %s passed on %d ranks, want %d\n%s", name, got, want, res.stdout)
		}
	}
	if np >= 2 && !strings.Contains(res.stdout, "rank 1 mismatch: mpi: rank 1 Recv(from 0, tag 30): type mismatch: cannot decode string into *int") {
		t.Errorf("the type mismatch error does not name rank, source, tag and both types:\n%s", res.stdout)
	}
	noProcessLeft(t, res)
}
