package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/natsd"
)

// reservationLease is how long an agent holds slots reserved for a job
// that is not launched.
const reservationLease = 30 * time.Second

// agentConfig is "gorun agent"'s command line.
type agentConfig struct {
	nats   natsConfig
	slots  int
	name   string
	cache  string
	serve  string // --serve ADDR: embed the NATS server there
	goarch string // the architecture of the programs it asks for
	// secret, when set, is the cluster's: only requests signed with it run.
	secret []byte
}

// agent is one host's gorun agent: it answers discovery, reserves slots
// and runs the ranks launchers send it.
type agent struct {
	cfg  agentConfig
	nc   *nats.Conn
	logw io.Writer

	mu       sync.Mutex
	reserved map[string]reservation // job -> slots held for it
	running  map[string]*agentJob   // job -> its ranks here
	// launched remembers each job launched here for as long as its signed
	// request could be replayed (requestMaxAge): a copy of a launch
	// request, sent again by whoever read it on the server, is refused.
	launched map[string]time.Time
}

// reservation is slots held for a job until its launch.
type reservation struct {
	n       int
	expires time.Time
}

// runAgent is "gorun agent ARGS": it runs until SIGINT or SIGTERM.
func runAgent(args []string) int {
	var cfg agentConfig
	fs := flag.NewFlagSet("gorun agent", flag.ContinueOnError)
	fs.StringVar(&cfg.nats.URL, "nats", os.Getenv("NATS_URL"), "NATS server `URL` to join")
	fs.StringVar(&cfg.nats.Creds, "nats-creds", "", "NATS credentials `file`")
	fs.StringVar(&cfg.nats.CA, "nats-ca", "", "CA `file` for the NATS server's TLS certificate")
	fs.IntVar(&cfg.slots, "slots", runtime.NumCPU(), "ranks this host runs at once")
	fs.StringVar(&cfg.name, "name", defaultAgentName(), "this agent's name, as launchers' --hosts give it")
	cache, _ := os.UserCacheDir()
	if cache == "" {
		cache = os.TempDir()
	}
	fs.StringVar(&cfg.cache, "cache", filepath.Join(cache, "gorun", "programs"), "`directory` of programs received")
	fs.StringVar(&cfg.goarch, "goarch", runtime.GOARCH, "the `GOARCH` of programs this agent runs (its own by default; an amd64 host\nalso runs 386)")
	fs.StringVar(&cfg.serve, "serve", "", "embed the NATS server on `ADDR` (host:port) with a generated credential and\nprint the commands other hosts and launchers use to join")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "gorun agent: %v\n", err)
		return 2
	}
	cfg.secret = clusterSecret(os.Getenv)
	var served *natsd.Server      // the server of --serve, or nil
	var servedEnd <-chan struct{} // closed if it ends; nil (never) without one
	if cfg.serve != "" {
		srv, err := serveNATS(&cfg, os.Stdout)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gorun agent: %v\n", err)
			return 1
		}
		defer srv.Shutdown()
		served, servedEnd = srv, srv.Done()
	}
	switch {
	case cfg.nats.URL == "":
		fmt.Fprintln(os.Stderr, "gorun agent: missing --nats URL, the server to join")
		return 2
	case cfg.slots < 1:
		fmt.Fprintf(os.Stderr, "gorun agent: --slots %d: must be 1 or more\n", cfg.slots)
		return 2
	case !validName(cfg.name):
		fmt.Fprintf(os.Stderr, "gorun agent: --name %q: use letters, digits, '-' and '_' only\n", cfg.name)
		return 2
	}
	if err := os.MkdirAll(cfg.cache, 0o700); err != nil {
		fmt.Fprintf(os.Stderr, "gorun agent: cannot make the program cache: %v\n", err)
		return 1
	}
	a := &agent{cfg: cfg, logw: os.Stderr, reserved: map[string]reservation{}, running: map[string]*agentJob{}}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	lost := make(chan string, 1)
	if err := a.connect(lost); err != nil {
		fmt.Fprintf(os.Stderr, "gorun agent: %v\n", err)
		return 1
	}
	defer a.nc.Close()
	// What goruns and agents killed on this host left (their job
	// directories) goes now; each job scans again beside its start.
	for _, dir := range removeStaleJobDirs(os.TempDir()) {
		a.logf("removed %s, left by a gorun or agent that is gone", dir)
	}
	a.logf("agent %s serving %d slots (%s/%s) at %s", cfg.name, cfg.slots, runtime.GOOS, cfg.goarch, comm.RedactURL(cfg.nats.URL))
	select {
	case sig := <-sigs:
		a.logf("%v: ending every job and stopping", sig)
		a.endAll("the agent was stopped")
		return 0
	case why := <-lost:
		a.logf("lost the NATS server: %s; ending every job", why)
		a.endAll("the agent lost the NATS server")
		return 1
	case <-servedEnd:
		a.logf("the NATS server of --serve (%s, pid %d) ended: %s; ending every job", natsd.Program, served.Pid(), served.Exit())
		a.endAll("the agent's NATS server ended")
		return 1
	}
}

// defaultAgentName is the host's name up to its first dot, with any
// character a name may not hold replaced by '-'.
func defaultAgentName() string {
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, host)
	if name == "" {
		return "agent"
	}
	return name
}

// validName reports whether name can be a subject token.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// connect joins the server and subscribes to the agent's services. A lost
// connection is reported on lost: a job cannot survive it.
func (a *agent) connect(lost chan<- string) error {
	report := func(why string) {
		select {
		case lost <- why:
		default:
		}
	}
	opts := []nats.Option{
		nats.Name("gorun agent " + a.cfg.name),
		nats.Timeout(natsReachTimeout),
		// The agent outlives a lost connection (it reconnects, to any
		// server of the cluster, every second, for ever); its jobs do not.
		nats.MaxReconnects(-1),
		nats.ReconnectWait(heartbeatEvery),
		nats.PingInterval(heartbeatEvery),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			why := "connection closed"
			if err != nil {
				why = err.Error()
			}
			a.logf("lost the NATS server (%s): ending every job, reconnecting", why)
			a.cutAll()
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { a.logf("reconnected to %s", nc.ConnectedUrlRedacted()) }),
		nats.ClosedHandler(func(*nats.Conn) { report("connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) { a.onAsyncError(sub, err) }),
	}
	opts = append(opts, natsAuthOptions(a.cfg.nats)...)
	nc, err := nats.Connect(a.cfg.nats.URL, opts...)
	if err != nil {
		return fmt.Errorf("cannot reach the NATS server at %s: %w", comm.RedactURL(a.cfg.nats.URL), err)
	}
	a.nc = nc
	if _, err := nc.Request(agentSubject(a.cfg.name, "info"), nil, requestTimeout); err == nil {
		nc.Close()
		return fmt.Errorf("an agent named %s already serves at %s: give this one another --name", a.cfg.name, comm.RedactURL(a.cfg.nats.URL))
	}
	// The info subject comes last: servers of a cluster learn of
	// subscriptions in the order they were made, so a launcher that gets
	// an answer to info through its own server can reserve and launch too.
	for _, s := range []struct {
		subj string
		h    nats.MsgHandler
	}{
		{agentSubject(a.cfg.name, "reserve"), a.onReserve},
		{agentSubject(a.cfg.name, "launch"), a.onLaunch},
		{agentsSubject, a.onDiscover},
		{agentSubject(a.cfg.name, "info"), a.onDiscover},
	} {
		if _, err := nc.Subscribe(s.subj, s.h); err != nil {
			nc.Close()
			return fmt.Errorf("cannot subscribe to %s: %w", s.subj, err)
		}
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return fmt.Errorf("NATS server at %s: %w", comm.RedactURL(a.cfg.nats.URL), err)
	}
	return nil
}

// onAsyncError handles an error the server reports after the fact: a
// message of a job refused (a permissions violation on its subjects) or
// messages of the launcher dropped (a slow consumer on a job's
// subscription). Either loses what the job's verdict may rest on, so the
// job ends (sendFailed); other errors are logged.
func (a *agent) onAsyncError(sub *nats.Subscription, err error) {
	a.logf("NATS server: %v", err)
	a.mu.Lock()
	var hit []*agentJob
	for _, j := range a.running {
		prefix := j.req.Ctl + "."
		if sub != nil && strings.HasPrefix(sub.Subject, prefix) || strings.Contains(err.Error(), prefix) {
			hit = append(hit, j)
		}
	}
	a.mu.Unlock()
	for _, j := range hit {
		if sub != nil {
			j.fail(fmt.Sprintf("agent %s lost messages of the launcher on %s: %v", a.cfg.name, sub.Subject, err))
		} else {
			j.fail(fmt.Sprintf("agent %s: the NATS server refused a message of the job: %v", a.cfg.name, err))
		}
	}
}

// natsAuthOptions are the connection options for a credentials file and CA.
func natsAuthOptions(cfg natsConfig) []nats.Option {
	var opts []nats.Option
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.CA != "" {
		opts = append(opts, nats.RootCAs(cfg.CA))
	}
	return opts
}

// logf writes one line of the agent's log.
func (a *agent) logf(format string, args ...any) {
	fmt.Fprintf(a.logw, "gorun agent %s: %s\n", a.cfg.name, fmt.Sprintf(format, args...))
}

// info describes the agent now.
func (a *agent) info() agentInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return agentInfo{Name: a.cfg.name, Slots: a.cfg.slots, Free: a.freeLocked(), GOOS: runtime.GOOS,
		GOARCH: a.cfg.goarch, Version: gorunVersion(), Server: a.nc.ConnectedUrlRedacted()}
}

// freeLocked is the number of slots neither running nor reserved.
func (a *agent) freeLocked() int {
	used := 0
	now := time.Now()
	for job, r := range a.reserved {
		if now.After(r.expires) {
			delete(a.reserved, job)
			continue
		}
		used += r.n
	}
	for _, j := range a.running {
		used += len(j.req.Ranks)
	}
	return a.cfg.slots - used
}

func (a *agent) onDiscover(m *nats.Msg) {
	_ = m.Respond(mustJSON(a.info()))
}

func (a *agent) onReserve(m *nats.Msg) {
	var req reserveRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.Job == "" {
		_ = m.Respond(mustJSON(reserveReply{Error: "malformed reserve request"}))
		return
	}
	if err := checkSigned(a.cfg.secret, reserveText(a.cfg.name, req), req.Auth, time.Now()); err != nil {
		a.logf("refused a reservation for job %s: %v", req.Job, err)
		_ = m.Respond(mustJSON(reserveReply{Denied: true, Error: fmt.Sprintf("agent %s refuses: %v", a.cfg.name, err)}))
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if req.Release {
		delete(a.reserved, req.Job)
		_ = m.Respond(mustJSON(reserveReply{OK: true, Free: a.freeLocked(), Slots: a.cfg.slots}))
		return
	}
	delete(a.reserved, req.Job)
	free := a.freeLocked()
	if req.N > free && !req.Oversubscribe {
		_ = m.Respond(mustJSON(reserveReply{Free: free, Slots: a.cfg.slots,
			Error: fmt.Sprintf("agent %s has %d free slots of %d; the job asks for %d", a.cfg.name, max(free, 0), a.cfg.slots, req.N)}))
		return
	}
	a.reserved[req.Job] = reservation{n: req.N, expires: time.Now().Add(reservationLease)}
	_ = m.Respond(mustJSON(reserveReply{OK: true, Free: free - req.N, Slots: a.cfg.slots}))
}

func (a *agent) onLaunch(m *nats.Msg) {
	var req launchRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.Job == "" || req.Ctl == "" || len(req.Ranks) == 0 {
		_ = m.Respond(mustJSON(launchReply{Error: "malformed launch request", Status: 1}))
		return
	}
	if err := openLaunch(a.cfg.secret, a.cfg.name, &req, time.Now()); err != nil {
		a.logf("refused to launch job %s: %v", req.Job, err)
		_ = m.Respond(mustJSON(launchReply{Error: fmt.Sprintf("agent %s refuses: %v", a.cfg.name, err), Status: 1}))
		return
	}
	a.mu.Lock()
	if _, dup := a.running[req.Job]; dup {
		a.mu.Unlock()
		_ = m.Respond(mustJSON(launchReply{Error: "job " + req.Job + " already runs here", Status: 1}))
		return
	}
	if held, ok := a.reserved[req.Job]; !ok || held.n < len(req.Ranks) {
		if free := a.freeLocked() + held.n; free < len(req.Ranks) {
			a.mu.Unlock()
			_ = m.Respond(mustJSON(launchReply{Status: 1, Error: fmt.Sprintf(
				"agent %s: job %s asks for %d slots without a reservation, and %d are free", a.cfg.name, req.Job, len(req.Ranks), max(free, 0))}))
			return
		}
	}
	if a.replayedLocked(req.Job, time.Now()) {
		a.mu.Unlock()
		_ = m.Respond(mustJSON(launchReply{Error: fmt.Sprintf("agent %s refuses: job %s was launched here already (a replayed request?)", a.cfg.name, req.Job), Status: 1}))
		return
	}
	delete(a.reserved, req.Job)
	j := &agentJob{agent: a, req: req, relay: newRelayAuth(req.Job, req.Secret), abandonC: make(chan string, 1), ended: make(chan struct{})}
	a.running[req.Job] = j
	a.mu.Unlock()
	// The job's ranks are started and supervised by a goroutine locked
	// to its thread: their parent-death signal fires when it ends.
	go j.run(m)
}

// replayedLocked reports whether job was launched here within the age of
// a valid request, and else remembers it as launched now.
func (a *agent) replayedLocked(job string, now time.Time) bool {
	if a.launched == nil {
		a.launched = map[string]time.Time{}
	}
	for id, at := range a.launched {
		if now.Sub(at) > 2*requestMaxAge { // clock skew included
			delete(a.launched, id)
		}
	}
	if _, seen := a.launched[job]; seen {
		return true
	}
	a.launched[job] = now
	return false
}

// jobEnded forgets a job whose ranks are all gone.
func (a *agent) jobEnded(job string) {
	a.mu.Lock()
	delete(a.running, job)
	a.mu.Unlock()
}

// cutAll ends every job after the connection to the server was lost: its
// ranks are killed and nothing more of it is sent (its launcher, which
// hears nothing, names this agent and its server as lost).
func (a *agent) cutAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, j := range a.running {
		j.cut.Store(true)
		j.abandon("the agent lost the NATS server")
	}
}

// endAll kills the ranks of every job and waits (briefly) for them.
func (a *agent) endAll(why string) {
	a.mu.Lock()
	jobs := make([]*agentJob, 0, len(a.running))
	for _, j := range a.running {
		jobs = append(jobs, j)
	}
	a.mu.Unlock()
	for _, j := range jobs {
		j.abandon(why)
	}
	for _, j := range jobs {
		j.waitEnded(giveUpAfter)
	}
}

// gorunVersion is the module version gorun was built from.
func gorunVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
