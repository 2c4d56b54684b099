package main

import (
	"errors"
	"testing"
	"time"
)

func TestSignedRequests(t *testing.T) {
	now := time.Now()
	secret := []byte("cluster secret")
	req := launchRequest{Job: "j1", Secret: "s", Size: 2, Ranks: []int{0, 1}, Ctl: "c", Prog: shipSpec{Digest: "d"}}
	auth := signedBy(secret, launchText("a", req), now)
	if err := checkSigned(secret, launchText("a", req), auth, now); err != nil {
		t.Fatalf("a good signature refused: %v", err)
	}
	other := req
	other.Prog.Digest = "e"
	for name, c := range map[string]struct {
		secret []byte
		text   string
		auth   string
		at     time.Time
	}{
		"other program":     {secret, launchText("a", other), auth, now},
		"other agent":       {secret, launchText("b", req), auth, now},
		"other secret":      {[]byte("guess"), launchText("a", req), auth, now},
		"unsigned":          {secret, launchText("a", req), "", now},
		"replayed later":    {secret, launchText("a", req), auth, now.Add(3 * time.Minute)},
		"garbage":           {secret, launchText("a", req), "x:y", now},
		"reserve as launch": {secret, reserveText("a", reserveRequest{Job: "j1", N: 2}), auth, now},
	} {
		if err := checkSigned(c.secret, c.text, c.auth, c.at); !errors.Is(err, errUnsigned) {
			t.Errorf("%s: got %v, want errUnsigned", name, err)
		}
	}
	if err := checkSigned(nil, launchText("a", req), "", now); err != nil {
		t.Errorf("an agent without a secret refused: %v", err)
	}
}
