package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clusterSecretEnv holds the cluster's secret: an agent started with one
// runs only requests signed with it, and a launcher signs with it.
const clusterSecretEnv = "GORUN_CLUSTER_SECRET"

// requestMaxAge is how old a signed request may be (clock skew included).
const requestMaxAge = 2 * time.Minute

// errUnsigned reports a request an agent refuses: not signed, or signed
// with another secret, or too old.
var errUnsigned = errors.New("request not signed with the cluster's secret")

// clusterSecret reads the secret from the environment ("" = none).
func clusterSecret(getenv func(string) string) []byte {
	return []byte(strings.TrimSpace(getenv(clusterSecretEnv)))
}

// sign is the signature of a request's canonical text under secret.
func sign(secret []byte, canonical string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(canonical))
	return hex.EncodeToString(mac.Sum(nil))
}

// signedBy returns "issued:signature" for what, or "" without a secret.
func signedBy(secret []byte, what string, now time.Time) string {
	if len(secret) == 0 {
		return ""
	}
	issued := fmt.Sprint(now.UnixMilli())
	return issued + ":" + sign(secret, issued+"\n"+what)
}

// checkSigned checks auth ("issued:signature") on what against secret;
// an agent without a secret accepts everything its NATS server lets
// through.
func checkSigned(secret []byte, what, auth string, now time.Time) error {
	if len(secret) == 0 {
		return nil
	}
	issued, sig, ok := strings.Cut(auth, ":")
	if !ok {
		return fmt.Errorf("%w: the launcher sent no signature (set %s to the cluster's secret)", errUnsigned, clusterSecretEnv)
	}
	if !hmac.Equal([]byte(sig), []byte(sign(secret, issued+"\n"+what))) {
		return fmt.Errorf("%w: wrong signature (the launcher's %s differs from the agent's)", errUnsigned, clusterSecretEnv)
	}
	var ms int64
	if _, err := fmt.Sscan(issued, &ms); err != nil {
		return fmt.Errorf("%w: malformed signature time", errUnsigned)
	}
	if age := now.Sub(time.UnixMilli(ms)); age > requestMaxAge || age < -requestMaxAge {
		return fmt.Errorf("%w: signed %v ago (a replay, or clocks apart)", errUnsigned, age.Round(time.Second))
	}
	return nil
}

// reserveText and launchText are what a signature covers.
func reserveText(agent string, r reserveRequest) string {
	return fmt.Sprintf("reserve\n%s\n%s\n%d\n%v\n%v", agent, r.Job, r.N, r.Oversubscribe, r.Release)
}

func launchText(agent string, r launchRequest) string {
	return strings.Join([]string{"launch", agent, r.Job, r.Secret, fmt.Sprint(r.Size, r.Host, r.Ranks), r.Placement, r.Ctl,
		r.Prog.Digest, fmt.Sprint(r.Prog.Size), r.Prog.Name, r.Prog.Subject, strings.Join(r.Args, "\x00"),
		fmt.Sprint(r.Tag, r.SyncSends, r.Stdin)}, "\n") + traceText(r.Trace) + sealedText(r.Sealed)
}

// sealedText is the part of launchText for the sealed secrets: none when
// the request has none.
func sealedText(sealed string) string {
	if sealed == "" {
		return ""
	}
	return "\nsealed " + sealed
}

// traceText is the part of launchText for gorun --trace: none when off, so
// that the signature of a launch without tracing is what it always was.
func traceText(limit int) string {
	if limit == 0 {
		return ""
	}
	return "\ntrace " + strconv.Itoa(limit)
}

// secretFromEnv is the launcher's cluster secret.
func secretFromEnv() []byte { return clusterSecret(os.Getenv) }
