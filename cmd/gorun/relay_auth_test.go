package main

import (
	"errors"
	"testing"
)

// TestRelayAuth: a relay message opens for the job's parties once, on its
// subject, in order; a copy of it (replayed), an older one, one edited,
// moved to another subject, or sealed with another job's key does not.
func TestRelayAuth(t *testing.T) {
	agent, launcher := newRelayAuth("j1", "secret"), newRelayAuth("j1", "secret")
	const down = "gorun.job.j1.down.0"
	m1, commit := launcher.sealLocked(down, []byte(`{"kind":"signal","signal":9}`))
	commit()
	m2, commit := launcher.sealLocked(down, []byte(`{"kind":"end"}`))
	commit()
	// A second reader peeks without taking the message from the first.
	if body, err := agent.peek(down, m1); err != nil || string(body) != `{"kind":"signal","signal":9}` {
		t.Fatalf("peek(first) = %q, %v", body, err)
	}
	if _, err := agent.peek(down, otherJobMsg(t)); !errors.Is(err, errRelayForged) {
		t.Fatalf("peek(forged) = %v", err)
	}
	if body, err := agent.open(down, m1); err != nil || string(body) != `{"kind":"signal","signal":9}` {
		t.Fatalf("open(first) = %q, %v", body, err)
	}
	other := otherJobMsg(t)
	edited := append([]byte(nil), m2...)
	edited[len(edited)-3] ^= 1
	for name, c := range map[string]struct {
		subject string
		msg     []byte
		want    error
	}{
		"replayed":      {down, m1, errRelayReplayed},
		"other subject": {"gorun.job.j1.down.1", m2, errRelayForged},
		"edited":        {down, edited, errRelayForged},
		"other job":     {down, other, errRelayForged},
		"bare JSON":     {down, []byte(`{"kind":"end","pad":"xxxxxxxxxxxxxxxxxxxxxxxx"}`), errRelayForged},
		"short":         {down, []byte("x"), errRelayForged},
	} {
		if _, err := agent.open(c.subject, c.msg); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	if body, err := agent.open(down, m2); err != nil || string(body) != `{"kind":"end"}` {
		t.Fatalf("open(second) = %q, %v", body, err)
	}
	if _, err := agent.open(down, m1); !errors.Is(err, errRelayReplayed) {
		t.Errorf("an older message after a newer one: got %v, want errRelayReplayed", err)
	}
	// A number that was not committed (its message could not go) is
	// given to the next message.
	_, _ = launcher.sealLocked(down, []byte("lost"))
	m3, commit := launcher.sealLocked(down, []byte("next"))
	commit()
	if body, err := agent.open(down, m3); err != nil || string(body) != "next" {
		t.Fatalf("open(after an uncommitted number) = %q, %v", body, err)
	}
}

// otherJobMsg is a message of another job.
func otherJobMsg(t *testing.T) []byte {
	t.Helper()
	m, _ := newRelayAuth("j2", "other secret").sealLocked("gorun.job.j1.down.0", []byte(`{"kind":"end"}`))
	return m
}
