package tests

import (
	"strings"
	"testing"
	"time"
)

// TestMultihostSmallMaxPayload: with a server whose messages hold at most
// 64 KiB, each rank's 1 MiB line (behave -mode longline) reaches the
// launcher whole, relayed in pieces within the server's limit; no piece is
// refused and silently lost, which would end the job "successfully" without
// its output.
func TestMultihostSmallMaxPayload(t *testing.T) {
	r := newBareRigWith(t, []string{"-max-payload", "65536"}, "a", "b")
	r.startAgent(t, "a", 1)
	r.startAgent(t, "b", 1)
	stdout, stderr, code := r.launch(t, "-np", "2", "--nats", r.URL(), "--hosts", "a:1,b:1", bin("behave"), "-mode", "longline")
	if code != 0 {
		t.Fatalf("status %d\n%s", code, stderr)
	}
	for rank, letter := range []string{"a", "b"} {
		want := itoa(rank) + ":" + strings.Repeat(letter, 1<<20) + "\n"
		if !strings.Contains(stdout, want) {
			t.Errorf("rank %d's 1 MiB line did not arrive whole (stdout: %d bytes, %d lines)", rank, len(stdout), strings.Count(stdout, "\n"))
		}
	}
	if len(stdout) != 2*(1<<20+3) {
		t.Errorf("stdout holds %d bytes, want %d", len(stdout), 2*(1<<20+3))
	}
	r.noRankLeft(t, 5*time.Second)
}
