package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// discoverWait is how long discovery collects agents' answers.
const discoverWait = 700 * time.Millisecond

// agentPropagationWait is how long an agent named in --hosts may stay
// unknown to the launcher's server ("no responders") before placement
// fails: the time servers of a cluster take to tell each other of a new
// subscription, with room for a loaded machine.
const agentPropagationWait = 2 * time.Second

// hostsConfig is how a job is spread over agents (--hosts, --hostfile,
// --map-by, --oversubscribe).
type hostsConfig struct {
	list          string // --hosts: "a:4,b:4" or "auto"
	file          string // --hostfile
	mapBy         string
	oversubscribe bool
}

// enabled reports whether the job runs through agents.
func (h hostsConfig) enabled() bool { return h.list != "" || h.file != "" }

// dialLauncherNATS connects the launcher to the server its agents use.
// lost is called (once) if the connection ends.
func dialLauncherNATS(cfg natsConfig, name string, lost func(why string)) (*nats.Conn, error) {
	var once sync.Once
	report := func(why string) { once.Do(func() { lost(why) }) }
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(natsReachTimeout),
		nats.NoReconnect(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			why := "connection closed"
			if err != nil {
				why = err.Error()
			}
			report(why)
		}),
		nats.ClosedHandler(func(*nats.Conn) { report("connection closed") }),
	}
	opts = append(opts, natsAuthOptions(cfg)...)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the NATS server at %s: %w", comm.RedactURL(cfg.URL), err)
	}
	return nc, nil
}

// discoverAgents collects the answers of every agent on the server.
func discoverAgents(nc *nats.Conn) ([]agentInfo, error) {
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("discovering agents: %w", err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(agentsSubject, inbox, nil); err != nil {
		return nil, fmt.Errorf("discovering agents: %w", err)
	}
	var agents []agentInfo
	deadline := time.Now().Add(discoverWait)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			break
		}
		var a agentInfo
		if json.Unmarshal(m.Data, &a) == nil && a.Name != "" {
			agents = append(agents, a)
		}
	}
	sort.Slice(agents, func(i, k int) bool { return agents[i].Name < agents[k].Name })
	return agents, nil
}

// askAgent asks the agent called name for its description. "No
// responders" is asked again for agentPropagationWait: an agent connected
// to another server of a cluster is known to ours only once that server
// has told it of the agent's subscriptions, which may follow the agent's
// start by a moment.
func askAgent(nc *nats.Conn, name, url string) (agentInfo, error) {
	deadline := time.Now().Add(agentPropagationWait)
	pause := 10 * time.Millisecond
	var m *nats.Msg
	for {
		var err error
		m, err = nc.Request(agentSubject(name, "info"), nil, requestTimeout)
		if err == nil {
			break
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			return agentInfo{}, fmt.Errorf("asking agent %s: %w", name, err)
		}
		if time.Now().Add(pause).After(deadline) {
			return agentInfo{}, fmt.Errorf("%w: no agent named %s answers at %s", errPlacement, name, comm.RedactURL(url))
		}
		time.Sleep(pause)
		pause = min(2*pause, 200*time.Millisecond)
	}
	var a agentInfo
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return agentInfo{}, fmt.Errorf("agent %s answered gibberish: %w", name, err)
	}
	return a, nil
}

// chooseHosts resolves the host list of cfg against the agents that
// answer, and checks that they can all run prog.
func chooseHosts(nc *nats.Conn, cfg config, progPath string, built bool) ([]hostSlots, []agentInfo, error) {
	var hosts []hostSlots
	var err error
	switch {
	case cfg.hosts.file != "":
		hosts, err = readHostfile(cfg.hosts.file)
	case cfg.hosts.list == "auto":
		agents, err := discoverAgents(nc)
		if err != nil {
			return nil, nil, err
		}
		if len(agents) == 0 {
			return nil, nil, fmt.Errorf("%w: --hosts auto: no agent answers at %s", errPlacement, comm.RedactURL(cfg.nats.URL))
		}
		hosts = autoHosts(agents)
		if len(hosts) == 0 {
			return nil, nil, fmt.Errorf("%w: --hosts auto: every agent is busy (%s)", errPlacement, describeAgents(agents))
		}
	default:
		hosts, err = parseHostList(cfg.hosts.list)
	}
	if err != nil {
		return nil, nil, err
	}
	infos := make([]agentInfo, len(hosts))
	for i, h := range hosts {
		if infos[i], err = askAgent(nc, h.name, cfg.nats.URL); err != nil {
			return nil, nil, err
		}
	}
	want := programPlatform(progPath)
	if want == "" || built {
		return hosts, infos, nil // a Go package is built for each agent's platform
	}
	var wrong []string
	for _, a := range infos {
		if a.platform() != want {
			wrong = append(wrong, a.Name)
		}
	}
	if len(wrong) > 0 {
		return nil, nil, fmt.Errorf("%w: the program is built for %s, which %s cannot run (agents: %s)",
			errWrongPlatform, want, strings.Join(wrong, ", "), describeAgents(infos))
	}
	return hosts, infos, nil
}

// errDenied reports an agent that refused the launcher's credentials.
var errDenied = errors.New("nothing was started")

// errWrongPlatform reports a program built for another OS or architecture
// than an agent's.
var errWrongPlatform = errors.New("program for another platform")

// describeAgents is "a linux/amd64 (2 of 4 free), b ...".
func describeAgents(agents []agentInfo) string {
	parts := make([]string, len(agents))
	for i, a := range agents {
		parts[i] = fmt.Sprintf("%s %s (%d of %d slots free)", a.Name, a.platform(), max(a.Free, 0), a.Slots)
	}
	return strings.Join(parts, ", ")
}

// reserve holds each host's share of the job's slots; on any refusal it
// gives back what it got and explains.
func reserve(nc *nats.Conn, jobID string, names []string, hostOf []int, oversubscribe bool) error {
	counts := make([]int, len(names))
	for _, h := range hostOf {
		counts[h]++
	}
	secret := secretFromEnv()
	signed := func(name string, r reserveRequest) []byte {
		r.Auth = signedBy(secret, reserveText(name, r), time.Now())
		return mustJSON(r)
	}
	var held []string
	release := func() {
		for _, name := range held {
			_, _ = nc.Request(agentSubject(name, "reserve"), signed(name, reserveRequest{Job: jobID, Release: true}), requestTimeout)
		}
	}
	for i, name := range names {
		if counts[i] == 0 {
			continue
		}
		m, err := nc.Request(agentSubject(name, "reserve"), signed(name, reserveRequest{Job: jobID, N: counts[i], Oversubscribe: oversubscribe}), requestTimeout)
		if err != nil {
			release()
			return fmt.Errorf("reserving %d slots on agent %s: %w", counts[i], name, err)
		}
		var r reserveReply
		if err := json.Unmarshal(m.Data, &r); err != nil || !r.OK {
			release()
			why := r.Error
			if err != nil {
				why = "malformed answer: " + err.Error()
			}
			if r.Denied {
				return fmt.Errorf("%s (%w)", why, errDenied)
			}
			return fmt.Errorf("%w: %s (nothing was started; --oversubscribe allows it)", errPlacement, why)
		}
		held = append(held, name)
	}
	return nil
}

// release gives back the job's reservations on every host named.
func release(nc *nats.Conn, jobID string, names []string) {
	secret := secretFromEnv()
	for _, name := range names {
		r := reserveRequest{Job: jobID, Release: true}
		r.Auth = signedBy(secret, reserveText(name, r), time.Now())
		_, _ = nc.Request(agentSubject(name, "reserve"), mustJSON(r), requestTimeout)
	}
}

// runHosts runs a job through agents (--hosts, --hostfile): it places the
// ranks, reserves the slots, and then supervises the job as locally, the
// agents relaying their ranks' control messages, output and exits.
func runHosts(cfg config, prog program, job jobenv.Job, tracer *traceCollector, stdout, stderr *stream, sigs <-chan os.Signal, broken <-chan error) int {
	r := &remoteRanks{np: cfg.np, events: make(chanEvents, 4*cfg.np+64)}
	nc, err := dialLauncherNATS(cfg.nats, "gorun "+job.JobID+" launcher", func(why string) {
		r.loseAll(fmt.Sprintf("lost the NATS server at %s: %s", comm.RedactURL(cfg.nats.URL), why))
	})
	if err != nil {
		stderr.line("gorun: " + err.Error())
		return 1
	}
	defer nc.Close()
	built := strings.HasPrefix(prog.path, filepath.Join(job.Dir, "bin")+string(filepath.Separator))
	hosts, infos, err := chooseHosts(nc, cfg, prog.path, built)
	if err != nil {
		stderr.line("gorun: " + err.Error())
		if errors.Is(err, errWrongPlatform) {
			return 126
		}
		return 1
	}
	hostOf, err := place(cfg.np, hosts, cfg.hosts.mapBy, cfg.hosts.oversubscribe)
	if err != nil {
		stderr.line("gorun: " + err.Error())
		return 1
	}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.name
	}
	// A Go package is built for every platform among the agents before
	// any slot is reserved (a build may outlast a reservation).
	r.progs = map[string]program{runtime.GOOS + "/" + runtime.GOARCH: prog}
	for _, a := range infos {
		r.servers = append(r.servers, a.Server)
		r.platforms = append(r.platforms, a.platform())
		if _, ok := r.progs[a.platform()]; ok || !built {
			r.progs[a.platform()] = prog
			continue
		}
		cross, err := buildFor(cfg.program, job.Dir, a.GOOS, a.GOARCH, os.Stderr)
		if err != nil {
			stderr.line("gorun: " + err.Error())
			return 1
		}
		r.progs[a.platform()] = cross
	}
	if err := reserve(nc, job.JobID, names, hostOf, cfg.hosts.oversubscribe); err != nil {
		stderr.line("gorun: " + err.Error())
		return 1
	}
	if status, ok := interruptedDuringSetup(sigs, stderr); ok {
		release(nc, job.JobID, names)
		return status
	}
	stderr.line("gorun: " + placementSummary(hostOf, names))
	r.nc, r.job, r.names, r.hostOf = nc, job, names, hostOf
	r.ctl = "gorun.job." + job.JobID
	s := newSupervisor(cfg, prog, job, r, stdout, stderr, sigs, broken)
	s.remote, s.trace = r, tracer
	return s.run()
}
