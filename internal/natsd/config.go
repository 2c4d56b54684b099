// Package natsd runs gorun's own NATS server in a process of its own,
// gorun-natsd, and describes what that server is asked to do.
//
// The launcher starts a server for "--transport nats" without a URL and for
// "gorun agent --serve". The server's code (nats-server) is three times the
// size of the rest of gorun, and a program pays for what it links every time
// it starts, before main: page faults of its code and data and of the heap
// its package initialisers fill. Keeping it in gorun-natsd makes every local
// launch cheaper (see README.md). This package does not import nats-server;
// cmd/gorun-natsd and package natsserver do.
package natsd

import (
	"crypto/rand"
	"encoding/hex"
)

// User is an account on the server. With a Prefix, the user may publish
// and subscribe only to subjects under it (Prefix + ".>").
type User struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Prefix   string `json:"prefix,omitempty"`
}

// NewUser returns a user with a random name and password confined to
// prefix ("" for a user that may use every subject).
func NewUser(prefix string) User {
	return User{Name: "job-" + randomHex(6), Password: randomHex(16), Prefix: prefix}
}

// Config is what the server is asked to do.
type Config struct {
	// Host is the address the server listens on: "" for 127.0.0.1.
	Host string `json:"host,omitempty"`
	// Port is the port it listens on: 0 for a free one.
	Port int `json:"port,omitempty"`
	// Users are the accounts it accepts; it accepts no other client.
	Users []User `json:"users"`
	// MaxPayload overrides the server's largest message (default 1 MiB).
	MaxPayload int32 `json:"max_payload,omitempty"`
}

// ListenHost is the host the server listens on: cfg.Host, or 127.0.0.1.
func (cfg Config) ListenHost() string {
	if cfg.Host == "" {
		return "127.0.0.1"
	}
	return cfg.Host
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: it ends the program instead
	return hex.EncodeToString(b)
}
