package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"
)

// TestSealedLaunch: a launch request signed and sealed for agent a opens
// there, holding the job's secret and arguments; on the wire neither
// appears; and no change to the request, another agent's or job's name or
// another cluster secret opens it.
func TestSealedLaunch(t *testing.T) {
	now := time.Now()
	cluster := []byte("cluster secret " + testHex(t, 8))
	jobSecret := testHex(t, 16)
	args := []string{"-password", testHex(t, 8)}
	fresh := func() launchRequest {
		return launchRequest{Job: "j1", Secret: jobSecret, Size: 4, Host: 1, Ranks: []int{2, 3}, Placement: "0,0,1,1",
			Ctl: "gorun.job.j1", Prog: shipSpec{Digest: "d", Size: 9, Name: "prog", Subject: "s"}, Args: args}
	}
	sealedFor := func(agent string) launchRequest {
		r := fresh()
		if err := authorizeLaunch(cluster, agent, &r, now); err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := sealedFor("a")
	wire := mustJSON(r)
	for _, s := range append([]string{jobSecret}, args...) {
		if bytes.Contains(wire, []byte(s)) {
			t.Fatalf("the sealed request holds %q in clear: %s", s, wire)
		}
	}
	if err := openLaunch(cluster, "a", &r, now); err != nil {
		t.Fatalf("agent a cannot open its request: %v", err)
	}
	if r.Secret != jobSecret || !slices.Equal(r.Args, args) {
		t.Fatalf("opened %q %q, want %q %q", r.Secret, r.Args, jobSecret, args)
	}

	// Two seals of one request differ (random nonces).
	if a, b := sealedFor("a"), sealedFor("a"); a.Sealed == b.Sealed {
		t.Errorf("two seals are the same: %s", a.Sealed)
	}

	flipped := sealedFor("a")
	raw := []byte(flipped.Sealed)
	i := int(randomInt(t, int64(len(raw))))
	raw[i] ^= 1
	flipped.Sealed = string(raw)
	for name, c := range map[string]struct {
		secret []byte
		agent  string
		edit   func(*launchRequest)
		want   error
	}{
		// The signature catches any edit of a signed field...
		"other ranks":   {cluster, "a", func(r *launchRequest) { r.Ranks = []int{0, 1, 2, 3} }, errUnsigned},
		"other program": {cluster, "a", func(r *launchRequest) { r.Prog.Digest = "e" }, errUnsigned},
		"other agent":   {cluster, "b", func(*launchRequest) {}, errUnsigned},
		"other cluster": {[]byte("guess"), "a", func(*launchRequest) {}, errUnsigned},
		"flipped bit":   {cluster, "a", func(r *launchRequest) { *r = flipped }, errUnsigned},
		// ...and the seal a sealed part moved onto another request, even
		// one signed afresh (a launcher of the cluster replaying another's).
		"moved": {cluster, "a", func(r *launchRequest) {
			other := fresh()
			other.Job, other.Ctl = "j2", "gorun.job.j2"
			_ = authorizeLaunch(cluster, "a", &other, now)
			other.Sealed = r.Sealed
			other.Auth = signedBy(cluster, launchText("a", other), now)
			*r = other
		}, errSealed},
		"clear as well": {cluster, "a", func(r *launchRequest) {
			r.Secret = "leaked"
			r.Auth = signedBy(cluster, launchText("a", *r), now)
		}, errSealed},
		"not sealed": {cluster, "a", func(r *launchRequest) {
			*r = fresh()
			r.Secret = "in clear"
			r.Auth = signedBy(cluster, launchText("a", *r), now)
		}, errSealed},
		"agent without a secret": {nil, "a", func(*launchRequest) {}, errSealed},
	} {
		r := sealedFor("a")
		c.edit(&r)
		if err := openLaunch(c.secret, c.agent, &r, now); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		} else if r.Secret == jobSecret {
			t.Errorf("%s: refused, yet the job's secret was opened", name)
		}
	}

	// Without a cluster secret on either side, the request goes as it is.
	plain := fresh()
	if err := authorizeLaunch(nil, "a", &plain, now); err != nil || plain.Sealed != "" || plain.Secret != jobSecret {
		t.Fatalf("without a cluster secret: %v, %+v", err, plain)
	}
	if err := openLaunch(nil, "a", &plain, now); err != nil || plain.Secret != jobSecret {
		t.Fatalf("an agent without a secret refused a plain request: %v", err)
	}
}

func testHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func randomInt(t *testing.T, n int64) int64 {
	t.Helper()
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		t.Fatal(err)
	}
	return v.Int64()
}

// TestLaunchReplayRefused: an agent launches a job once; the same job's
// request again (a copy read on the server) is refused for as long as its
// signature is valid, and the memory of it lapses after.
func TestLaunchReplayRefused(t *testing.T) {
	a := &agent{}
	now := time.Now()
	if a.replayedLocked("j1", now) {
		t.Fatal("a first launch counted as a replay")
	}
	if !a.replayedLocked("j1", now.Add(requestMaxAge)) {
		t.Error("a second launch of j1 within a request's age was not refused")
	}
	if a.replayedLocked("j2", now) {
		t.Error("another job counted as a replay")
	}
	if a.replayedLocked("j1", now.Add(2*requestMaxAge+time.Second)) || len(a.launched) != 1 {
		t.Errorf("the memory of old launches does not lapse: %v", a.launched)
	}
}
