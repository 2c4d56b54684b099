// Package natsserver runs a NATS server inside the calling process, by
// default on a free loopback port, with users confined to their job's
// subjects. gorun-natsd runs one for the launcher (see package natsd);
// tests start one to exercise the NATS transport against a real server.
package natsserver

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gorun-mpi/gorun/internal/natsd"
)

// User is an account on the server (see natsd.User).
type User = natsd.User

// NewUser returns a user with a random name and password confined to prefix.
func NewUser(prefix string) User { return natsd.NewUser(prefix) }

// Config configures Start (see natsd.Config): the address, the users, the
// largest message.
type Config = natsd.Config

// Server is a running embedded NATS server.
type Server struct {
	srv  *server.Server
	port int
}

// readyTimeout bounds the wait for the server to accept connections.
const readyTimeout = 10 * time.Second

// Start runs a server at cfg's address (by default 127.0.0.1, a free port)
// and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
	port := cfg.Port
	if port != 0 {
		// A port in use would only show as a server that never becomes
		// ready; say so at once.
		addr := net.JoinHostPort(cfg.ListenHost(), strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("embedded NATS server: cannot listen on %s: %w", addr, err)
		}
		l.Close()
	} else {
		port = server.RANDOM_PORT // nats-server's 0 is its default port, 4222
	}
	opts := &server.Options{
		Host:       cfg.ListenHost(),
		Port:       port,
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
		return nil, fmt.Errorf("embedded NATS server on %s: not accepting connections after %v", net.JoinHostPort(opts.Host, strconv.Itoa(cfg.Port)), readyTimeout)
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
