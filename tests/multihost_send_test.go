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
	t.Parallel()
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

// TestMultihostPushedSendsUnderADefaultServer: under a server with NATS's
// default max_payload (1 MiB), a 1 MiB Send between hosts is pushed (its
// body follows its announcement unasked) and completes as an eager send
// does, as it does under gorun's own servers: verdict's send-send at
// 1024 KiB finishes. 2 MiB still goes by rendezvous, so send-send at
// 2048 KiB deadlocks and gorun says so, and --sync-sends makes the 1 MiB
// pair deadlock too.
func TestMultihostPushedSendsUnderADefaultServer(t *testing.T) {
	t.Parallel()
	r := newBareRigWith(t, []string{"-max-payload", "1048576"}, "a", "b")
	r.startAgent(t, "a", 1)
	r.startAgent(t, "b", 1)
	base := []string{"-np", "2", "--nats", r.URL(), "--hosts", "a:1,b:1"}
	const deadlock = "gorun: deadlock: every rank is blocked: rank 0 in Send(dest 1, tag 1); rank 1 in Send(dest 0, tag 1)"
	for _, tc := range []struct {
		name       string
		flags      []string
		kib        string
		deadlocked bool
	}{
		{"pushed", nil, "1024", false},
		{"rendezvous", nil, "2048", true},
		{"sync-sends", []string{"--sync-sends"}, "1024", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append(append([]string{}, base...), tc.flags...), bin("verdict"), "-mode", "send-send", "-kib", tc.kib)
			_, stderr, code := r.launch(t, args...)
			switch {
			case tc.deadlocked && (code != 1 || !strings.Contains(stderr, deadlock)):
				t.Fatalf("send-send of %s KiB: status %d, want 1 and %q:\n%s", tc.kib, code, deadlock, stderr)
			case !tc.deadlocked && code != 0:
				t.Fatalf("send-send of %s KiB: status %d, want 0 (pushed sends complete):\n%s", tc.kib, code, stderr)
			}
		})
	}
	r.noRankLeft(t, 5*time.Second)
}
