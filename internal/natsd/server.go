package natsd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// readyTimeout bounds the wait for the helper's answer. The server inside
// waits at most 10 s for itself to accept connections; the rest is the
// start of a process on a loaded machine.
const readyTimeout = 30 * time.Second

// stopTimeout bounds a graceful stop before the helper is killed.
const stopTimeout = 10 * time.Second

// Options says where Start finds the helper and where it reports.
type Options struct {
	// Getenv reads the environment (os.Getenv when nil): PathEnv names the
	// helper's path.
	Getenv func(string) string
	// Log receives one line when the helper has to be built first; nil
	// discards it.
	Log io.Writer
	// Stderr receives what the helper writes to its standard error (a Go
	// panic, should it crash); os.Stderr when nil.
	Stderr io.Writer
}

// Server is a running gorun-natsd.
type Server struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	host  string
	port  int
	done  chan struct{} // closed once the helper has exited
	err   error         // how it exited, set before done closes

	stopOnce sync.Once
	stopErr  error
}

// Start starts gorun-natsd with cfg and returns once the server accepts
// connections. The helper ends when Shutdown is called, and when this
// process dies (its standard input reaches its end; on Linux it is also
// killed at once by the kernel). The helper is found as Locate says.
func Start(cfg Config, opts Options) (*Server, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	path, cleanup, err := Locate(opts.Getenv, opts.Log)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	cmd := exec.Command(path)
	cmd.Stderr = opts.Stderr
	// A process group of its own: a Ctrl-C at the terminal reaches the
	// launcher, which stops the server in order. The kernel kills it when
	// the thread that started it dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("embedded NATS server: cannot start %s: %w", path, err)
	}
	s := &Server{cmd: cmd, stdin: stdin, host: cfg.ListenHost(), done: make(chan struct{})}
	answers := make(chan Ready, 1)
	failed := make(chan error, 1)
	go func() {
		if _, err := stdin.Write(append(config, '\n')); err != nil {
			failed <- fmt.Errorf("writing its configuration: %w", err)
			return
		}
		ready, err := readReady(stdout)
		if err != nil {
			failed <- fmt.Errorf("reading its answer: %w", err)
			return
		}
		answers <- ready
	}()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	var ready Ready
	select {
	case ready = <-answers:
	case err = <-failed:
	case <-timer.C:
		err = fmt.Errorf("no answer after %v", readyTimeout)
	}
	if err == nil && ready.Error != "" {
		err = errors.New(ready.Error)
	}
	if err != nil {
		stdin.Close()
		cmd.Process.Kill()
		werr := cmd.Wait()
		if werr != nil && !isKilled(werr) {
			err = fmt.Errorf("%w (%s %v)", err, Program, werr)
		}
		return nil, fmt.Errorf("embedded NATS server (%s): %w", path, err)
	}
	s.port = ready.Port
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.port }

// Pid returns the helper's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// URL returns the URL user connects with from this host, credentials
// included: at the address the server listens on, or 127.0.0.1 when it
// listens on every address or on a name.
func (s *Server) URL(u User) string {
	host := "127.0.0.1"
	if ip := net.ParseIP(s.host); ip != nil && !ip.IsUnspecified() {
		host = s.host
	}
	return (&url.URL{Scheme: "nats", User: url.UserPassword(u.Name, u.Password), Host: net.JoinHostPort(host, strconv.Itoa(s.port))}).String()
}

// Done is closed once the helper has exited, asked to or not.
func (s *Server) Done() <-chan struct{} { return s.done }

// Exit says how the helper exited; call it after Done is closed.
func (s *Server) Exit() string {
	if s.err == nil {
		return "exited with status 0"
	}
	return s.err.Error()
}

// Shutdown stops the server, closing every client connection, and waits
// for the helper to exit (killing it after 10 s). It returns an error when
// the helper had already ended on its own, or failed to stop cleanly.
func (s *Server) Shutdown() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.done:
			s.stopErr = fmt.Errorf("embedded NATS server (%s, pid %d) had already ended: %s", Program, s.Pid(), s.Exit())
			return
		default:
		}
		s.stdin.Close()
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-s.done:
			if s.err != nil {
				s.stopErr = fmt.Errorf("embedded NATS server (%s, pid %d): %w", Program, s.Pid(), s.err)
			}
		case <-timer.C:
			s.cmd.Process.Kill()
			<-s.done
			s.stopErr = fmt.Errorf("embedded NATS server (%s, pid %d) did not stop within %v: killed", Program, s.Pid(), stopTimeout)
		}
	})
	return s.stopErr
}

// isKilled reports whether err says the process died of SIGKILL (which
// Start sends when the helper does not answer).
func isKilled(err error) bool {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return false
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
