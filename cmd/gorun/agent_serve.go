package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/natsd"
)

// serveNATS starts the NATS server of "gorun agent --serve ADDR"
// (gorun-natsd, see package natsd): on ADDR,
// with one generated user, and a generated cluster secret unless one is
// set. It points cfg at the server and prints the commands other hosts
// and launchers run to join. The caller shuts the server down.
func serveNATS(cfg *agentConfig, out io.Writer) (*natsd.Server, error) {
	host, portText, err := net.SplitHostPort(cfg.serve)
	if err != nil {
		return nil, fmt.Errorf("--serve %q: want host:port (e.g. 0.0.0.0:4222): %w", cfg.serve, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("--serve %q: bad port", cfg.serve)
	}
	if cfg.nats.URL != "" {
		return nil, fmt.Errorf("give --serve ADDR or --nats URL, not both")
	}
	pass, err := randomHex(24)
	if err != nil {
		return nil, err
	}
	if len(cfg.secret) == 0 {
		s, err := randomHex(32)
		if err != nil {
			return nil, err
		}
		cfg.secret = []byte(s)
	}
	user := natsd.User{Name: "gorun", Password: pass}
	srv, err := natsd.Start(natsd.Config{Host: host, Port: port, Users: []natsd.User{user}, MaxPayload: comm.DefaultNATSMaxPayload},
		natsd.Options{Log: out})
	if err != nil {
		return nil, fmt.Errorf("--serve %s: %w", cfg.serve, err)
	}
	port = srv.Port()
	cfg.nats.URL = srv.URL(user)
	public := &url.URL{Scheme: "nats", User: url.UserPassword(user.Name, user.Password), Host: net.JoinHostPort(publicHost(host), strconv.Itoa(port))}
	fmt.Fprintf(out, `gorun agent: NATS server listening on %s
On every other host, to join with its cores:
  %s=%s gorun agent --nats '%s'
On the host you launch from:
  export %s=%s
  gorun -np 4 --nats '%s' --hosts auto PROGRAM
(Anyone with this URL and secret can run programs on these hosts, as with an ssh key.)
`, net.JoinHostPort(host, strconv.Itoa(port)), clusterSecretEnv, cfg.secret, public.String(),
		clusterSecretEnv, cfg.secret, public.String())
	return srv, nil
}

// publicHost is the address other hosts reach a server listening on host
// at: host itself unless it listens on every address, then this host's
// first non-loopback IPv4 address (else its name).
func publicHost(host string) string {
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return host
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
				return n.IP.String()
			}
		}
	}
	name, _ := os.Hostname()
	return name
}
