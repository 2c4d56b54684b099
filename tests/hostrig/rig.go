// Package hostrig builds a small network of "hosts" on one Linux machine
// for gorun's multi-host tests: network namespaces joined by veth pairs to
// a bridge in a server namespace, where a NATS server (nats-server/v2, the
// module gorun embeds) listens. Agents run in their own namespaces, each
// with a private mount namespace in which chosen directories are hidden
// under an empty tmpfs, so a program built on the launcher's "host" exists
// only there.
//
// # Usage
//
//	if err := hostrig.Available(); err != nil { t.Skip(err) }
//	rig := hostrig.New(t, "launcher", "a", "b")
//	rig.Hide("a", buildDir)
//	rig.StartNATS(t, natsdPath)
//	agent := rig.Start(t, "a", nil, gorunPath, "agent", "--nats", rig.URL())
//
// Every namespace, link and process the rig makes is removed at the test's
// end. It needs root and the ip(8) and unshare(1) commands.
package hostrig

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Subnet is the rig's private network; the server namespace's bridge is
// ServerIP and host i gets 10.77.0.(10+i).
const (
	ServerIP    = "10.77.0.1"
	natsPort    = 4222
	clusterPort = 4300 // StartNATSCluster: servers on 4300, 4301...
)

// Available says why the rig cannot run here (nil: it can).
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("hostrig: needs root to create network namespaces")
	}
	for _, cmd := range []string{"ip", "unshare", "nsenter"} {
		if _, err := exec.LookPath(cmd); err != nil {
			return fmt.Errorf("hostrig: needs %s: %w", cmd, err)
		}
	}
	probe := "grprobe" + randomHex(3)
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		return fmt.Errorf("hostrig: cannot create a network namespace (ip netns add): %v: %s", err, strings.TrimSpace(string(out)))
	}
	_ = exec.Command("ip", "netns", "del", probe).Run()
	return nil
}

// Rig is a set of namespaces on a private subnet.
type Rig struct {
	id     string
	server string              // the server namespace
	hosts  map[string]string   // host name -> namespace
	ips    map[string]string   // host name -> address
	links  map[string]string   // host name -> its interface in its namespace
	hidden map[string][]string // host name -> directories it does not see
	env    []string            // added to every process's environment (Setenv)

	mu    sync.Mutex
	procs []*Proc
}

// New makes the server namespace and one namespace per host name.
func New(t testing.TB, hosts ...string) *Rig {
	t.Helper()
	r := &Rig{id: randomHex(3), hidden: map[string][]string{}, hosts: map[string]string{}, ips: map[string]string{}, links: map[string]string{}}
	r.server = "gr" + r.id + "s"
	t.Cleanup(r.destroy)
	r.must(t, "ip", "netns", "add", r.server)
	r.must(t, "ip", "-n", r.server, "link", "set", "lo", "up")
	r.must(t, "ip", "-n", r.server, "link", "add", "br0", "type", "bridge")
	r.must(t, "ip", "-n", r.server, "addr", "add", ServerIP+"/24", "dev", "br0")
	r.must(t, "ip", "-n", r.server, "link", "set", "br0", "up")
	for i, h := range hosts {
		ns := fmt.Sprintf("gr%s%d", r.id, i)
		here, there := fmt.Sprintf("gr%s%dh", r.id, i), fmt.Sprintf("gr%s%db", r.id, i)
		ip := fmt.Sprintf("10.77.0.%d", 10+i)
		r.must(t, "ip", "netns", "add", ns)
		r.hosts[h], r.ips[h], r.links[h] = ns, ip, here
		r.must(t, "ip", "link", "add", here, "type", "veth", "peer", "name", there)
		r.must(t, "ip", "link", "set", here, "netns", ns)
		r.must(t, "ip", "link", "set", there, "netns", r.server)
		r.must(t, "ip", "-n", r.server, "link", "set", there, "master", "br0")
		r.must(t, "ip", "-n", r.server, "link", "set", there, "up")
		r.must(t, "ip", "-n", ns, "addr", "add", ip+"/24", "dev", here)
		r.must(t, "ip", "-n", ns, "link", "set", here, "up")
		r.must(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	return r
}

func (r *Rig) must(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("hostrig: %s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// Setenv adds kv ("NAME=value") to the environment of every process the
// rig starts afterwards, before what Start's caller adds.
func (r *Rig) Setenv(kv ...string) { r.env = append(r.env, kv...) }

// Hide makes dirs invisible (an empty tmpfs over each) to every process
// the rig starts on host afterwards.
func (r *Rig) Hide(host string, dirs ...string) { r.hidden[host] = append(r.hidden[host], dirs...) }

// URL is the NATS server's URL as the hosts reach it.
func (r *Rig) URL() string { return fmt.Sprintf("nats://%s:%d", ServerIP, natsPort) }

// NATSStats asks natsd p (SIGUSR1) for the messages and bytes it has
// received so far.
func NATSStats(t testing.TB, p *Proc) (msgs, bytes int64) {
	t.Helper()
	before := strings.Count(p.Output(), "stats ")
	p.Signal(syscall.SIGUSR1)
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(p.Output(), "stats ") == before {
		if time.Now().After(deadline) {
			t.Fatalf("hostrig: natsd does not report its counters:\n%s", p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := p.Output()
	last := out[strings.LastIndex(out, "stats "):]
	if _, err := fmt.Sscanf(last, "stats in_msgs=%d in_bytes=%d", &msgs, &bytes); err != nil {
		t.Fatalf("hostrig: natsd's counters %q: %v", last, err)
	}
	return msgs, bytes
}

// NATSSlowConsumers asks natsd p (SIGUSR1) how many slow consumers it has
// seen (clients it cut off for not reading fast enough).
func NATSSlowConsumers(t testing.TB, p *Proc) int64 {
	t.Helper()
	NATSStats(t, p)
	out := p.Output()
	last := out[strings.LastIndex(out, "stats "):]
	i := strings.Index(last, "slow_consumers=")
	if i < 0 {
		t.Fatalf("hostrig: natsd does not count slow consumers: %q", last)
	}
	var n int64
	if _, err := fmt.Sscanf(last[i:], "slow_consumers=%d", &n); err != nil {
		t.Fatalf("hostrig: natsd's counters %q: %v", last, err)
	}
	return n
}

// StartNATS runs natsd (tests/hostrig/natsd, built) in the server
// namespace, with extra flags (e.g. -js DIR), and waits until it accepts
// clients.
func (r *Rig) StartNATS(t testing.TB, natsd string, flags ...string) *Proc {
	t.Helper()
	args := append([]string{"-addr", fmt.Sprintf("%s:%d", ServerIP, natsPort)}, flags...)
	p, err := r.start("", r.server, nil, nil, natsd, args...)
	if err != nil {
		t.Fatalf("hostrig: starting natsd: %v", err)
	}
	if !p.WaitFor("ready", 15*time.Second) {
		t.Fatalf("hostrig: natsd not ready: %s", p.Output())
	}
	return p
}

// StartNATSCluster runs n natsd servers in the server namespace, on ports
// 4300+i with routes between all of them, waits until every route is up,
// and returns each server's process and client URL.
func (r *Rig) StartNATSCluster(t testing.TB, natsd string, n int) ([]*Proc, []string) {
	t.Helper()
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats-route://%s:%d", ServerIP, 6222+i))
	}
	var procs []*Proc
	var urls []string
	for i := range n {
		var others []string
		for k, route := range routes {
			if k != i {
				others = append(others, route)
			}
		}
		p, err := r.start("", r.server, nil, nil, natsd, "-name", fmt.Sprintf("s%d", i),
			"-addr", fmt.Sprintf("%s:%d", ServerIP, clusterPort+i), "-cluster", fmt.Sprintf("%s:%d", ServerIP, 6222+i),
			"-routes", strings.Join(others, ","), "-expect-routes", fmt.Sprint(n-1))
		if err != nil {
			t.Fatalf("hostrig: starting natsd %d: %v", i, err)
		}
		procs = append(procs, p)
		urls = append(urls, fmt.Sprintf("nats://%s:%d", ServerIP, clusterPort+i))
	}
	for i, p := range procs {
		if !p.WaitFor("routed", 30*time.Second) {
			t.Fatalf("hostrig: natsd %d: routes not up: %s", i, p.Output())
		}
	}
	return procs, urls
}

// Start runs a command on host: in its network namespace and, when
// directories are hidden, in a mount namespace of its own with them hidden.
func (r *Rig) Start(t testing.TB, host string, env []string, name string, args ...string) *Proc {
	t.Helper()
	ns, ok := r.hosts[host]
	if !ok {
		t.Fatalf("hostrig: no host %q", host)
	}
	p, err := r.start(host, ns, env, nil, name, args...)
	if err != nil {
		t.Fatalf("hostrig: starting %s on %s: %v", name, host, err)
	}
	return p
}

// StartWithStdin is Start with the command's stdin a pipe: what the test
// writes to the returned writer, until it closes it.
func (r *Rig) StartWithStdin(t testing.TB, host string, env []string, name string, args ...string) (*Proc, io.WriteCloser) {
	t.Helper()
	ns, ok := r.hosts[host]
	if !ok {
		t.Fatalf("hostrig: no host %q", host)
	}
	in, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("hostrig: %v", err)
	}
	p, err := r.start(host, ns, env, in, name, args...)
	in.Close() // the command's now
	if err != nil {
		w.Close()
		t.Fatalf("hostrig: starting %s on %s: %v", name, host, err)
	}
	t.Cleanup(func() { w.Close() })
	return p, w
}

// StartWithStdout is Start with the command's stdout the returned pipe,
// for the test to read at its own pace (Proc.Stdout stays empty).
func (r *Rig) StartWithStdout(t testing.TB, host string, env []string, name string, args ...string) (*Proc, *os.File) {
	t.Helper()
	ns, ok := r.hosts[host]
	if !ok {
		t.Fatalf("hostrig: no host %q", host)
	}
	rd, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("hostrig: %v", err)
	}
	p, err := r.startWith(host, ns, env, nil, w, name, args...)
	w.Close() // the command's now
	if err != nil {
		rd.Close()
		t.Fatalf("hostrig: starting %s on %s: %v", name, host, err)
	}
	t.Cleanup(func() { rd.Close() })
	return p, rd
}

func (r *Rig) start(host, ns string, env []string, stdin *os.File, name string, args ...string) (*Proc, error) {
	return r.startWith(host, ns, env, stdin, nil, name, args...)
}

func (r *Rig) startWith(host, ns string, env []string, stdin, stdout *os.File, name string, args ...string) (*Proc, error) {
	argv := []string{"netns", "exec", ns}
	if len(r.hidden[host]) > 0 {
		script := ""
		for _, d := range r.hidden[host] {
			script += fmt.Sprintf("mount -t tmpfs -o size=1m tmpfs '%s' && ", d)
		}
		script += `exec "$@"`
		argv = append(argv, "unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh")
	}
	argv = append(append(argv, name), args...)
	cmd := exec.Command("ip", argv...)
	cmd.Env = append(append(os.Environ(), r.env...), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Proc{Host: host, cmd: cmd, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	or, ow := io.Pipe()
	er, ew := io.Pipe()
	cmd.Stdout, cmd.Stderr = ow, ew
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	collected := make(chan struct{}, 2)
	go func() { p.collect(or, &p.stdout); collected <- struct{}{} }()
	go func() { p.collect(er, &p.stderr); collected <- struct{}{} }()
	go func() {
		p.err = cmd.Wait()
		ow.Close()
		ew.Close()
		<-collected
		<-collected
		close(p.done)
	}()
	r.mu.Lock()
	r.procs = append(r.procs, p)
	r.mu.Unlock()
	return p, nil
}

// Run runs a command on host to its end (at most limit) and returns its
// combined output and exit status (-1: still running at limit, killed).
func (r *Rig) Run(t testing.TB, host string, limit time.Duration, name string, args ...string) (string, int) {
	t.Helper()
	p := r.Start(t, host, nil, name, args...)
	if !p.Wait(limit) {
		p.Kill()
		p.Wait(5 * time.Second)
		return p.Output(), -1
	}
	return p.Output(), p.ExitCode()
}

// LinkDown cuts host off the network.
func (r *Rig) LinkDown(t testing.TB, host string) {
	t.Helper()
	r.must(t, "ip", "-n", r.hosts[host], "link", "set", r.links[host], "down")
}

// LinkUp puts host back on the network.
func (r *Rig) LinkUp(t testing.TB, host string) {
	t.Helper()
	r.must(t, "ip", "-n", r.hosts[host], "link", "set", r.links[host], "up")
}

// Namespace is host's network namespace name.
func (r *Rig) Namespace(host string) string { return r.hosts[host] }

// destroy kills what the rig started and removes its namespaces.
func (r *Rig) destroy() {
	r.mu.Lock()
	procs := r.procs
	r.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
	for _, p := range procs {
		p.Wait(5 * time.Second)
	}
	for _, ns := range r.hosts {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	_ = exec.Command("ip", "netns", "del", r.server).Run()
}

// Proc is a process the rig started.
type Proc struct {
	Host string
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu             sync.Mutex
	out            strings.Builder // stdout and stderr as they came
	stdout, stderr strings.Builder
	notify         chan struct{}
}

func (p *Proc) collect(r io.Reader, into *strings.Builder) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		p.mu.Lock()
		p.out.WriteString(line)
		into.WriteString(line)
		p.mu.Unlock()
		select {
		case p.notify <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// Pid is the process id (ip netns exec and unshare exec the command, so
// it is the command's own).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Output is everything it wrote so far (stdout and stderr together).
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Stdout is what it wrote to its standard output so far.
func (p *Proc) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// Stderr is what it wrote to its standard error so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// WaitFor waits until its output contains s; false after limit or if it
// ended without writing s.
func (p *Proc) WaitFor(s string, limit time.Duration) bool {
	deadline := time.After(limit)
	for {
		if strings.Contains(p.Output(), s) {
			return true
		}
		select {
		case <-p.notify:
		case <-p.done:
			return strings.Contains(p.Output(), s)
		case <-deadline:
			return false
		}
	}
}

// Wait waits at most limit for it to end; false if it still runs.
func (p *Proc) Wait(limit time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(limit):
		return false
	}
}

// Done is closed when it has ended and its output is collected.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitCode is its exit status once it ended (128+S for a signal).
func (p *Proc) ExitCode() int {
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	}
	if p.err != nil {
		return -1
	}
	return 0
}

// Signal sends sig to it.
func (p *Proc) Signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// Kill kills it and its process group.
func (p *Proc) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
