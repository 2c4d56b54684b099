package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
)

// A job's relay (its up, down, heartbeat, credit and stdin subjects) goes
// through a server every client of the account reads and writes. Each of
// its messages is authenticated with a key only the launcher, the job's
// agents and its ranks hold (derived from the job's secret, which launch
// requests carry sealed) and numbered per subject, so that a client of the
// account cannot forge one (end or signal another job's ranks, report a
// wrong exit status, keep a dead launcher's lease alive) nor replay one it
// read: an agent or launcher drops such messages.
//
//	[0:8)    sequence number on its subject, big endian, from 1
//	[8:24)   HMAC-SHA256(key, subject \x00 sequence body), truncated
//	[24:)    body (the JSON of hosts_wire.go)
//
// The relay is not encrypted: a client of the account reads it.

const (
	relaySeqLen    = 8
	relayMACLen    = 16
	relayHeaderLen = relaySeqLen + relayMACLen
)

// Errors of relayAuth.open.
var (
	errRelayForged   = errors.New("relay message not authenticated with the job's key")
	errRelayReplayed = errors.New("relay message replayed")
)

// relayAuth seals and opens one party's relay messages of one job.
type relayAuth struct {
	key []byte

	sendMu sync.Mutex        // held while a message is numbered and published
	sent   map[string]uint64 // per subject: the last number sent
	seenMu sync.Mutex
	seen   map[string]uint64 // per subject: the last number accepted
}

// newRelayAuth is the relay authenticator of job, whose secret is secret.
func newRelayAuth(job, secret string) *relayAuth {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("gorun relay v1\x00" + job))
	return &relayAuth{key: mac.Sum(nil), sent: map[string]uint64{}, seen: map[string]uint64{}}
}

// mac authenticates body as number seq on subject.
func (a *relayAuth) mac(subject string, seq uint64, body []byte) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(subject))
	m.Write([]byte{0})
	m.Write(binary.BigEndian.AppendUint64(nil, seq))
	m.Write(body)
	return m.Sum(nil)[:relayMACLen]
}

// sealLocked numbers body as the next message on subject (counted as sent
// only once commit is called: a message that could not go does not take a
// number) and authenticates it.
func (a *relayAuth) sealLocked(subject string, body []byte) (msg []byte, commit func()) {
	seq := a.sent[subject] + 1
	msg = binary.BigEndian.AppendUint64(make([]byte, 0, relayHeaderLen+len(body)), seq)
	msg = append(msg, a.mac(subject, seq, body)...)
	msg = append(msg, body...)
	return msg, func() { a.sent[subject] = seq }
}

// publish sends body on subject, sealed. Numbering and publishing happen
// under one lock, so that messages leave in the order of their numbers.
func (a *relayAuth) publish(nc *nats.Conn, subject string, body []byte) error {
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	msg, commit := a.sealLocked(subject, body)
	if err := nc.Publish(subject, msg); err != nil {
		return err
	}
	commit()
	return nil
}

// request sends body on subject, sealed, and waits for the answer (which
// is not sealed: only the request's own inbox gets it). One goroutine at a
// time requests on a subject.
func (a *relayAuth) request(ctx context.Context, nc *nats.Conn, subject string, body []byte) (*nats.Msg, error) {
	a.sendMu.Lock()
	msg, commit := a.sealLocked(subject, body)
	commit()
	a.sendMu.Unlock()
	return nc.RequestWithContext(ctx, subject, msg)
}

// open checks msg, received on subject, and returns its body: an error
// for a message not sealed with the job's key, or numbered at or below
// one already accepted on subject. It counts msg as accepted.
func (a *relayAuth) open(subject string, msg []byte) ([]byte, error) {
	return a.check(subject, msg, true)
}

// peek is open for a second reader of the subject, which the subject's
// main reader (open) will see after it: it accepts nothing.
func (a *relayAuth) peek(subject string, msg []byte) ([]byte, error) {
	return a.check(subject, msg, false)
}

func (a *relayAuth) check(subject string, msg []byte, accept bool) ([]byte, error) {
	if len(msg) < relayHeaderLen {
		return nil, fmt.Errorf("%w on %s: %d bytes", errRelayForged, subject, len(msg))
	}
	seq := binary.BigEndian.Uint64(msg[:relaySeqLen])
	body := msg[relayHeaderLen:]
	if !hmac.Equal(msg[relaySeqLen:relayHeaderLen], a.mac(subject, seq, body)) {
		return nil, fmt.Errorf("%w on %s", errRelayForged, subject)
	}
	a.seenMu.Lock()
	defer a.seenMu.Unlock()
	if last := a.seen[subject]; seq <= last {
		return nil, fmt.Errorf("%w on %s: number %d after %d", errRelayReplayed, subject, seq, last)
	}
	if accept {
		a.seen[subject] = seq
	}
	return body, nil
}
