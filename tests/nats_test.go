package tests

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// natsServer is a separately started nats-server process (built from the
// nats-server module this project already depends on), with authentication.
type natsServer struct {
	cmd        *exec.Cmd
	port       int
	user, pass string
}

// url returns the server's URL with the given password.
func (s *natsServer) url(pass string) string {
	return fmt.Sprintf("nats://%s:%s@127.0.0.1:%d", s.user, pass, s.port)
}

// startNATSServer builds (once per run) and starts a real nats-server that
// requires a user and password, and stops it at the end of the test.
func startNATSServer(t *testing.T) *natsServer {
	t.Helper()
	s := &natsServer{user: "gorun-test", pass: newMarker()}
	return startNATSServerWith(t, s, fmt.Sprintf("authorization { users = [ { user: %q, password: %q } ] }\n", s.user, s.pass))
}

// startNATSServerWith starts a real nats-server with config (listen
// address added), filling in s.port.
func startNATSServerWith(t *testing.T, s *natsServer, config string) *natsServer {
	t.Helper()
	binary := filepath.Join(binDir, "nats-server")
	natsBuild.Do(func() {
		out, err := exec.Command("go", "build", "-o", binary, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			natsBuildErr = fmt.Errorf("building nats-server: %v\n%s", err, out)
		}
	})
	if natsBuildErr != nil {
		t.Fatal(natsBuildErr)
	}
	s.port = freePort(t)
	conf := filepath.Join(t.TempDir(), "server.conf")
	text := fmt.Sprintf("listen: 127.0.0.1:%d\n%s", s.port, config)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(binary, "-c", conf)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			conn.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server not listening on port %d: %v", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	natsBuild    sync.Once
	natsBuildErr error
)

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestExternalNATSServer runs the point-to-point suite through a real
// nats-server with authentication, by --nats URL and by NATS_URL, two jobs
// at once.
func TestExternalNATSServer(t *testing.T) {
	srv := startNATSServer(t)
	runs := []job{
		{np: 3, prog: "p2p", flags: []string{"--nats", srv.url(srv.pass)}},
		{np: 4, prog: "p2p", flags: []string{"--transport", "nats"}, env: []string{"NATS_URL=" + srv.url(srv.pass)}},
	}
	var wg sync.WaitGroup
	for i, j := range runs {
		wg.Add(1)
		go func() { // side by side on one server
			defer wg.Done()
			res := runGorun(t, j)
			if res.code != 0 || strings.Count(res.stdout, " ok any-source\n") != j.np {
				t.Errorf("job %d: exit status %d\nstdout:\n%s\nstderr:\n%s", i, res.code, res.stdout, res.stderr)
			}
			noProcessLeft(t, res)
		}()
	}
	wg.Wait()
}

// TestNATSServerRefuses: a wrong password or a server that is not there
// ends gorun within 5 s with a message naming the URL (password hidden).
func TestNATSServerRefuses(t *testing.T) {
	srv := startNATSServer(t)
	for _, tc := range []struct{ name, url, want string }{
		{"wrong password", srv.url("wrong-password"), "authorization"},
		{"nothing listening", fmt.Sprintf("nats://127.0.0.1:%d", freePort(t)), "cannot reach the nats server at nats://127.0.0.1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res := runGorun(t, job{np: 2, prog: "behave", flags: []string{"--nats", tc.url}})
			took := time.Since(start)
			if res.code == 0 || !strings.Contains(strings.ToLower(res.stderr), tc.want) || strings.Contains(res.stderr, "wrong-password") {
				t.Errorf("exit status %d, stderr %q: want non-zero, mentioning %q, password hidden", res.code, res.stderr, tc.want)
			}
			if took > 5*time.Second+2*time.Second { // 5 s, and slack for a loaded machine to start gorun
				t.Errorf("took %v", took)
			}
			noProcessLeft(t, res)
		})
	}
}

// TestNATSServerKilledMidJob: killing the server ends the job within 10 s,
// non-zero, saying why, and leaves no process behind.
func TestNATSServerKilledMidJob(t *testing.T) {
	srv := startNATSServer(t)
	var killed time.Time
	res := runGorun(t, job{np: 3, prog: "behave", args: []string{"-mode", "sleep"},
		flags: []string{"--nats", srv.url(srv.pass)},
		whenUp: func(*os.Process) {
			killed = time.Now()
			srv.cmd.Process.Kill()
		}})
	took := time.Since(killed)
	if res.code == 0 || !strings.Contains(res.stderr, "lost the NATS server at nats://gorun-test:xxxxx@127.0.0.1:") {
		t.Errorf("exit status %d, stderr:\n%s", res.code, res.stderr)
	}
	if took > 10*time.Second {
		t.Errorf("the job ended %v after the server died", took)
	}
	noProcessLeft(t, res)
}

// TestEmbeddedNATSServerKilledMidJob: the server gorun runs for
// --transport nats without a URL is a process of its own (gorun-natsd);
// killing it ends the job within 10 s, non-zero, saying why, and leaves no
// process behind.
func TestEmbeddedNATSServerKilledMidJob(t *testing.T) {
	var killed time.Time
	var server string
	res := runGorun(t, job{np: 3, prog: "behave", args: []string{"-mode", "sleep"},
		flags: []string{"--transport", "nats"},
		whenUp: func(gorun *os.Process) {
			if server = childNamed(gorun.Pid, "gorun-natsd"); server == "" {
				t.Errorf("gorun (pid %d) runs no gorun-natsd for --transport nats", gorun.Pid)
				gorun.Kill()
				return
			}
			killed = time.Now()
			n, _ := strconv.Atoi(server)
			syscall.Kill(n, syscall.SIGKILL)
		}})
	took := time.Since(killed)
	if res.code == 0 || !strings.Contains(res.stderr, "gorun-natsd, pid "+server) {
		t.Errorf("exit status %d, stderr without the server's end (pid %s):\n%s", res.code, server, res.stderr)
	}
	if took > 10*time.Second {
		t.Errorf("the job ended %v after the server died", took)
	}
	noProcessLeft(t, res)
}

// TestServingAgentEndsWithItsServer: "gorun agent --serve" runs its server
// as gorun-natsd; when that dies, the agent ends (non-zero, naming it)
// rather than serving nobody.
func TestServingAgentEndsWithItsServer(t *testing.T) {
	marker := newMarker()
	cmd := exec.Command(bin("gorun"), "agent", "--serve", "127.0.0.1:0", "--name", "serving", "--cache", t.TempDir())
	cmd.Env = append(os.Environ(), "GORUN_TEST_MARKER="+marker, "GORUN_CLUSTER_SECRET=")
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(output(), " slots (") { // "agent serving N slots (linux/amd64) at ..."
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not start serving:\n%s", output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	server := childNamed(cmd.Process.Pid, "gorun-natsd")
	if server == "" {
		t.Fatalf("agent --serve runs no gorun-natsd:\n%s", output())
	}
	n, _ := strconv.Atoi(server)
	syscall.Kill(n, syscall.SIGKILL)
	ended := make(chan error, 1)
	go func() { ended <- cmd.Wait() }()
	select {
	case err := <-ended:
		if err == nil || !strings.Contains(output(), "gorun-natsd, pid "+server+") ended") {
			t.Errorf("agent exit %v, output without the server's end (pid %s):\n%s", err, server, output())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the agent still runs 10 s after its server died:\n%s", output())
	}
	noProcessLeft(t, result{marker: marker})
}

// writerFunc is an io.Writer made of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
