package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// A launch request names what an agent is to run, and carries what only
// the launcher and that agent may read: the job's secret (with which the
// job's ranks authenticate each other and their control connections) and
// the program's arguments. Every client of the NATS account can read the
// agents' subjects, so those travel sealed: AES-256-GCM under a key derived
// from the cluster's secret (HKDF-SHA256), with a random nonce and the
// request's other signed fields as associated data, so a sealed part moved
// onto another request (another agent, job, program or placement) does not
// open.

// sealInfo names the key HKDF derives, so that it differs from any other
// key derived from the cluster's secret.
const sealInfo = "gorun launch request seal v1"

// errSealed reports a launch request whose sealed part an agent cannot
// open, or that is not sealed when it must be.
var errSealed = errors.New("launch request not sealed with the cluster's secret")

// launchSecrets is the sealed part of a launch request.
type launchSecrets struct {
	Secret string   `json:"secret"`
	Args   []string `json:"args"`
}

// sealAEAD is the cipher of the launch requests of a cluster.
func sealAEAD(secret []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, sealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the launch request key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("deriving the launch request key: %w", err)
	}
	return cipher.NewGCM(block)
}

// authorizeLaunch prepares r for agent: with a cluster secret, it seals the
// job's secret and the arguments (leaving them empty in clear) and signs
// the result; without one, r goes as it is (the agent checks nothing).
func authorizeLaunch(secret []byte, agent string, r *launchRequest, now time.Time) error {
	if len(secret) == 0 {
		return nil
	}
	aead, err := sealAEAD(secret)
	if err != nil {
		return err
	}
	plain := mustJSON(launchSecrets{Secret: r.Secret, Args: r.Args})
	r.Secret, r.Args, r.Sealed, r.Auth = "", nil, "", ""
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("sealing the launch request: %w", err)
	}
	sealed := aead.Seal(nonce, nonce, plain, []byte(launchText(agent, *r)))
	r.Sealed = base64.StdEncoding.EncodeToString(sealed)
	r.Auth = signedBy(secret, launchText(agent, *r), now)
	return nil
}

// openLaunch checks that r, received by agent, is signed with the cluster's
// secret and opens its sealed part. An agent with a secret takes only
// sealed requests; one without takes everything, and cannot open a sealed
// one.
func openLaunch(secret []byte, agent string, r *launchRequest, now time.Time) error {
	if err := checkSigned(secret, launchText(agent, *r), r.Auth, now); err != nil {
		return err
	}
	switch {
	case len(secret) == 0 && r.Sealed == "":
		return nil
	case len(secret) == 0:
		return fmt.Errorf("%w: the launcher has a cluster secret (%s) and this agent has none", errSealed, clusterSecretEnv)
	case r.Sealed == "":
		return fmt.Errorf("%w: the launcher sent the job's secret in clear", errSealed)
	case r.Secret != "" || len(r.Args) > 0:
		return fmt.Errorf("%w: the request holds the job's secret or arguments in clear as well", errSealed)
	}
	sealed, err := base64.StdEncoding.DecodeString(r.Sealed)
	if err != nil {
		return fmt.Errorf("%w: %v", errSealed, err)
	}
	aead, err := sealAEAD(secret)
	if err != nil {
		return err
	}
	if len(sealed) < aead.NonceSize() {
		return fmt.Errorf("%w: %d bytes are too short", errSealed, len(sealed))
	}
	bare := *r
	bare.Sealed, bare.Auth = "", ""
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(launchText(agent, bare)))
	if err != nil {
		return fmt.Errorf("%w: it does not open (%v)", errSealed, err)
	}
	var s launchSecrets
	if err := json.Unmarshal(plain, &s); err != nil {
		return fmt.Errorf("%w: %v", errSealed, err)
	}
	r.Secret, r.Args, r.Sealed = s.Secret, s.Args, ""
	return nil
}
