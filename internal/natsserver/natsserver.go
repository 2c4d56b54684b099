// Package natsserver runs a NATS server inside the calling process, on a
// free loopback port, with users confined to their job's subjects. gorun
// starts one per job for --transport nats without a URL; tests start one
// to exercise the NATS transport against a real server.
package natsserver

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// User is an account on the embedded server. With a Prefix, the user may
// publish and subscribe only to subjects under it (Prefix + ".>").
type User struct {
	Name, Password string
	Prefix         string
}

// NewUser returns a user with a random name and password confined to prefix.
func NewUser(prefix string) User {
	return User{Name: "job-" + randomHex(6), Password: randomHex(16), Prefix: prefix}
}

// Config configures Start.
type Config struct {
	Users []User
	// MaxPayload overrides the server's largest message (default 1 MiB).
	MaxPayload int32
}

// Server is a running embedded NATS server.
type Server struct {
	srv  *server.Server
	port int
}

// readyTimeout bounds the wait for the server to accept connections.
const readyTimeout = 10 * time.Second

// Start runs a server on 127.0.0.1 at a free port and waits until it
// accepts connections.
func Start(cfg Config) (*Server, error) {
	opts := &server.Options{
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: cfg.MaxPayload,
		// Generous limits: the transport's credit window already bounds
		// what a client holds, so the server should never cut a
		// connection that is merely busy.
		MaxPending:    256 << 20,
		WriteDeadline: 30 * time.Second,
	}
	for _, u := range cfg.Users {
		user := &server.User{Username: u.Name, Password: u.Password}
		if u.Prefix != "" {
			allow := &server.SubjectPermission{Allow: []string{u.Prefix + ".>"}}
			user.Permissions = &server.Permissions{Publish: allow, Subscribe: allow}
		}
		opts.Users = append(opts.Users, user)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded NATS server: not accepting connections after %v", readyTimeout)
	}
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded NATS server: unexpected listen address %v", srv.Addr())
	}
	return &Server{srv: srv, port: addr.Port}, nil
}

// URL returns the URL user connects with, credentials included.
func (s *Server) URL(u User) string {
	return (&url.URL{Scheme: "nats", User: url.UserPassword(u.Name, u.Password), Host: "127.0.0.1:" + strconv.Itoa(s.port)}).String()
}

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.port }

// Shutdown stops the server, closing every client connection.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error()) // cannot happen on Linux
	}
	return hex.EncodeToString(b)
}
