package natsd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// helperPath is the gorun-natsd TestMain builds.
var helperPath string

// childEnv asks the test binary to act as a launcher that starts the
// helper, prints its pid and waits to be killed
// (TestHelperEndsWithItsLauncher).
const childEnv = "NATSD_TEST_LAUNCHER"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(actAsLauncher())
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "natsd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	helperPath = filepath.Join(dir, Program)
	if out, err := exec.Command("go", "build", "-o", helperPath, "../../cmd/gorun-natsd").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building %s: %v\n%s", Program, err, out)
		return 1
	}
	return m.Run()
}

// options finds the helper TestMain built.
func options() Options {
	return Options{Getenv: func(k string) string {
		if k == PathEnv {
			return helperPath
		}
		return ""
	}}
}

func actAsLauncher() int {
	srv, err := Start(Config{Users: []User{NewUser("")}}, Options{Getenv: func(k string) string {
		if k == PathEnv {
			return os.Getenv(childEnv)
		}
		return ""
	}})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println(srv.Pid())
	time.Sleep(time.Minute)
	return 0
}

// TestServerConfinesUsersAndStops starts the helper with a user confined
// to a prefix and one that is not, checks each may use what it should and
// no more, and that Shutdown ends the helper and closes the clients.
func TestServerConfinesUsersAndStops(t *testing.T) {
	job, admin := NewUser("job1"), NewUser("")
	srv, err := Start(Config{Users: []User{job, admin}, MaxPayload: 4 << 20}, options())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if !strings.HasPrefix(srv.URL(job), "nats://"+job.Name+":"+job.Password+"@127.0.0.1:"+strconv.Itoa(srv.Port())) {
		t.Fatalf("URL(job) = %q, port %d", srv.URL(job), srv.Port())
	}
	violations := make(chan error, 4)
	jobConn, err := nats.Connect(srv.URL(job), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer jobConn.Close()
	if got := jobConn.MaxPayload(); got != 4<<20 {
		t.Errorf("max payload %d, want %d", got, 4<<20)
	}
	adminConn, err := nats.Connect(srv.URL(admin))
	if err != nil {
		t.Fatal(err)
	}
	defer adminConn.Close()
	if _, err := nats.Connect(strings.Replace(srv.URL(job), job.Password, "wrong", 1)); err == nil {
		t.Error("a wrong password was accepted")
	}

	// The confined user's own subjects work, in both directions.
	sub, err := jobConn.SubscribeSync("job1.in")
	if err != nil {
		t.Fatal(err)
	}
	jobConn.Flush()
	if err := adminConn.Publish("job1.in", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if msg, err := sub.NextMsg(5 * time.Second); err != nil || string(msg.Data) != "hello" {
		t.Fatalf("confined user's subject: %v %v", msg, err)
	}
	// Another subject is refused.
	jobConn.Publish("other.out", []byte("x"))
	jobConn.Flush()
	select {
	case err := <-violations:
		if !errors.Is(err, nats.ErrPermissionViolation) && !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Errorf("publishing outside the prefix: %v, want a permissions violation", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("publishing outside the prefix raised no permissions violation")
	}

	closed := make(chan struct{})
	adminConn.SetClosedHandler(func(*nats.Conn) { close(closed) })
	adminConn.SetReconnectHandler(nil)
	pid := srv.Pid()
	if err := srv.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-srv.Done():
	default:
		t.Fatal("Shutdown returned before the helper ended")
	}
	if processAlive(pid) {
		t.Errorf("helper pid %d still exists after Shutdown", pid)
	}
	if err := srv.Shutdown(); err != nil {
		t.Errorf("a second Shutdown: %v", err)
	}
	if err := adminConn.Publish("job1.in", []byte("late")); err == nil {
		if err := adminConn.FlushTimeout(2 * time.Second); err == nil {
			t.Error("a client could still talk to the server after Shutdown")
		}
	}
}

// TestTakenPortIsNamed asks for a port in use and wants an error at once
// that names it.
func TestTakenPortIsNamed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	start := time.Now()
	_, err = Start(Config{Port: port, Users: []User{NewUser("")}}, options())
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start on a taken port: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the taken port was reported after %v", d)
	}
}

// TestHelperDeathIsReported kills the helper and wants Done closed, the
// cause in Exit, and Shutdown to say the server had already ended.
func TestHelperDeathIsReported(t *testing.T) {
	srv, err := Start(Config{Users: []User{NewUser("")}}, options())
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(srv.Pid(), syscall.SIGKILL)
	select {
	case <-srv.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed 10 s after the helper was killed")
	}
	if !strings.Contains(srv.Exit(), "killed") {
		t.Errorf("Exit() = %q, want it to say the helper was killed", srv.Exit())
	}
	err = srv.Shutdown()
	if err == nil || !strings.Contains(err.Error(), "had already ended") || !strings.Contains(err.Error(), strconv.Itoa(srv.Pid())) {
		t.Errorf("Shutdown after the helper's death: %v", err)
	}
}

// TestHelperEndsWithItsLauncher starts a launcher (this test binary) that
// starts the helper, kills the launcher with SIGKILL, and wants the helper
// gone too.
func TestHelperEndsWithItsLauncher(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+helperPath)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var line string
	if _, err := fmt.Fscanln(out, &line); err != nil {
		t.Fatalf("the launcher printed no pid: %v", err)
	}
	pid, err := strconv.Atoi(line)
	if err != nil {
		t.Fatalf("the launcher printed %q", line)
	}
	if !processAlive(pid) {
		t.Fatalf("helper pid %d not running while its launcher lives", pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("helper pid %d still running 10 s after its launcher was killed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command's closing parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestLocate(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == PathEnv {
				return v
			}
			return ""
		}
	}
	if p, _, err := Locate(env(helperPath), nil); err != nil || p != helperPath {
		t.Errorf("Locate with %s=%s: %q, %v", PathEnv, helperPath, p, err)
	}
	for _, bad := range []string{filepath.Join(t.TempDir(), "missing"), t.TempDir()} {
		if _, _, err := Locate(env(bad), nil); err == nil || !strings.Contains(err.Error(), PathEnv+"="+bad) {
			t.Errorf("Locate with %s=%s: %v, want an error naming the variable", PathEnv, bad, err)
		}
	}
}

// TestLocateBuildsWhenMissing has no helper anywhere (PATH holds only the
// go command) and wants Locate to build one from this module, say so, and
// remove it on cleanup.
func TestLocateBuildsWhenMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the helper")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	t.Setenv("PATH", filepath.Dir(goCmd))
	var log strings.Builder
	p, cleanup, err := Locate(func(string) string { return "" }, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "building "+Program) {
		t.Errorf("the build was not announced: %q", log.String())
	}
	if err := executable(p); err != nil {
		t.Fatal(err)
	}
	cleanup()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s (%v)", p, err)
	}

	// Without the go command, the error says how to install the helper.
	t.Setenv("PATH", t.TempDir())
	_, _, err = Locate(func(string) string { return "" }, nil)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "go install "+helperPackage) {
		t.Errorf("Locate without go nor helper: %v", err)
	}
}

func TestReadConfig(t *testing.T) {
	good := `{"host":"0.0.0.0","port":4333,"users":[{"name":"a","password":"b","prefix":"p"}],"max_payload":8}`
	cfg, err := ReadConfig(strings.NewReader(good))
	if err != nil || cfg.Host != "0.0.0.0" || cfg.Port != 4333 || cfg.MaxPayload != 8 || len(cfg.Users) != 1 || cfg.Users[0] != (User{"a", "b", "p"}) {
		t.Errorf("ReadConfig(%s) = %+v, %v", good, cfg, err)
	}
	for in, want := range map[string]string{
		``:                                   "EOF",
		`{"users":[]}`:                       "no user",
		`{"users":[{"name":"a"}],"port":-1}`: "port -1",
		`{"users":[{"name":"a"}],"bogus":1}`: "unknown field",
		`[1,2]`:                              "cannot unmarshal",
	} {
		if _, err := ReadConfig(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadConfig(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestReadyRoundTrip(t *testing.T) {
	var b strings.Builder
	WriteReady(&b, 4222, nil)
	WriteReady(&b, 0, errors.New("no luck"))
	lines := strings.SplitAfter(b.String(), "\n")
	if r, err := readReady(strings.NewReader(lines[0])); err != nil || r.Port != 4222 || r.Error != "" {
		t.Errorf("ready line %q: %+v %v", lines[0], r, err)
	}
	if r, err := readReady(strings.NewReader(lines[1])); err != nil || r.Error != "no luck" {
		t.Errorf("failure line %q: %+v %v", lines[1], r, err)
	}
	for _, bad := range []string{"", "{}\n", "garbage\n", `{"port":70000}` + "\n"} {
		if _, err := readReady(strings.NewReader(bad)); err == nil {
			t.Errorf("readReady(%q) accepted it", bad)
		}
	}
}
