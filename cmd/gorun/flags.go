package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// natsConfig is what the user asked of the NATS transport; prepareNATS
// (nats.go) turns it into a running or reachable server.
type natsConfig struct {
	URL   string // server URL, credentials allowed in it; "" = embedded server
	Creds string // NATS credentials file
	CA    string // CA file for the server's TLS certificate
}

// config is one gorun invocation, parsed from the command line.
type config struct {
	np        int
	timeout   time.Duration
	tagOutput bool
	syncSends bool   // every Send behaves as Ssend (GORUN_SYNC_SENDS=1 for the ranks)
	traceFile string // --trace: where the merged trace goes (.json or .html); "" = off
	transport string // jobenv.TransportLocal or jobenv.TransportNATS
	bindTo    string // bindCore or bindNone
	nats      natsConfig
	hosts     hostsConfig // --hosts and friends: ranks run on agents
	program   string
	args      []string
}

// errUsage marks a command-line error: gorun exits 2 and starts nothing.
var errUsage = errors.New("usage error")

// errHelp asks for the usage text on stdout and exit status 0.
var errHelp = errors.New("help requested")

const usageHead = `gorun runs an MPI-style job: N copies (ranks) of PROGRAM, wired together.

Usage:
  gorun -np N [flags] PROGRAM [ARGS...]
  gorun -np N --nats URL --hosts a:4,b:4|auto [flags] PROGRAM [ARGS...]   ranks on agents
  gorun agent --nats URL | --serve ADDR [--slots N] [--name NAME]        on each host
  gorun agents --nats URL                                                list the agents

PROGRAM is an executable file, a command found in PATH, or a Go package (a
directory such as ./examples/ring, or an import path), which gorun builds first
as "go run" would. ARGS are passed to every rank unchanged.

Flags:
`

const usageTail = `
Exit status:
  0        every rank exited 0
  N        the first rank that failed exited with status N (1 when it exited 0
           after mpi.Init without calling mpi.Finalize)
  code     a rank called mpi.Abort(code, reason) (1 if code is outside 1..255)
  128+S    the first rank that failed was killed by signal S (139: SIGSEGV)
  1        deadlock: every running rank was blocked with no message in flight,
           or the NATS setup failed
  2        bad command line (nothing was started)
  124      --timeout expired
  126      PROGRAM is not executable; 127: PROGRAM not found
  130/143  gorun was interrupted by SIGINT / SIGTERM (129 for SIGHUP)
On any failure gorun prints one line naming the rank, its pid and the cause,
and ends every other rank (SIGTERM, then SIGKILL after 1 s).

Environment:
  NATS_URL    default for --nats when --transport nats is chosen
  GORUN_NATSD the gorun-natsd to run for --transport nats without a URL and
              agent --serve (default: the one beside gorun, else in PATH)
  GORUN_SPIN  passed to ranks: how long a waiting rank polls before it
              sleeps (default 50us; 500us when oversubscribed)
  GORUN_YIELD gorun sets it to 1 when N exceeds the number of CPUs (unless
              already set): a polling rank yields its core between polls
  GOMAXPROCS  gorun gives each rank max(1, CPUs/N) unless already set
  GORUN_TRACE_LIMIT  with --trace: the most calls each rank records
              (default 100000; later calls are counted, not recorded)
  Ranks also get GORUN_RANK, GORUN_SIZE, GORUN_JOB_ID, GORUN_SECRET,
  GORUN_DIR, GORUN_CONTROL, GORUN_TRANSPORT (and GORUN_NATS_* for nats).
`

// newFlagSet defines gorun's flags on cfg.
func newFlagSet(cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet("gorun", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&cfg.np, "np", 0, "number of ranks to start, 1 or more (required)")
	fs.IntVar(&cfg.np, "n", 0, "same as -np")
	fs.DurationVar(&cfg.timeout, "timeout", 0, "end the whole job after this `duration` (e.g. 30s, 5m); exit 124")
	fs.BoolVar(&cfg.tagOutput, "tag-output", false, "prefix each output line with \"[rank] \"")
	fs.BoolVar(&cfg.syncSends, "sync-sends", false, "every Send, Isend and Sendrecv waits for its receive to match, as Ssend does:\na program that works only thanks to buffering deadlocks every time")
	fs.StringVar(&cfg.traceFile, "trace", "", "record every rank's mpi calls and write them, clocks aligned, to `FILE`:\nFILE.json for ui.perfetto.dev or chrome://tracing, FILE.html for a page of its own")
	fs.StringVar(&cfg.transport, "transport", jobenv.TransportLocal, "how ranks talk: local (Unix sockets on this host) or nats")
	fs.StringVar(&cfg.bindTo, "bind-to", bindCore, "core: bind each rank to its share of the CPUs (as mpirun --bind-to core);\nnone: let the kernel place ranks")
	fs.StringVar(&cfg.nats.URL, "nats", "", "NATS server `URL` (implies --transport nats); user:pass or token may be\nin the URL; with --transport nats and no URL, gorun runs its own server\n(gorun-natsd, beside gorun or in PATH)")
	fs.StringVar(&cfg.nats.Creds, "nats-creds", "", "NATS credentials `file`")
	fs.StringVar(&cfg.nats.CA, "nats-ca", "", "CA `file` for the NATS server's TLS certificate")
	fs.StringVar(&cfg.hosts.list, "hosts", "", "run the ranks on these agents (needs --nats): `list` a:4,b:4 (name:slots), or auto\n(every answering agent's free slots)")
	fs.StringVar(&cfg.hosts.file, "hostfile", "", "like --hosts, from a `file` of \"name slots=N\" lines")
	fs.StringVar(&cfg.hosts.mapBy, "map-by", mapBySlot, "with --hosts: slot (fill each host in turn) or node (one rank per host in turn)")
	fs.BoolVar(&cfg.hosts.oversubscribe, "oversubscribe", false, "with --hosts: run more ranks on an agent than it has free slots")
	return fs
}

// parseFlags parses gorun's command line (without the program name). Errors
// wrap errUsage or errHelp.
func parseFlags(args []string, getenv func(string) string) (config, error) {
	var cfg config
	fs := newFlagSet(&cfg)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, errHelp
		}
		return cfg, fmt.Errorf("%w: %v", errUsage, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if set["np"] && set["n"] {
		return cfg, fmt.Errorf("%w: give the number of ranks once, with -np or -n", errUsage)
	}
	switch {
	case !set["np"] && !set["n"]:
		return cfg, fmt.Errorf("%w: missing -np N, the number of ranks to start", errUsage)
	case cfg.np < 1:
		return cfg, fmt.Errorf("%w: -np %d: the number of ranks must be 1 or more", errUsage, cfg.np)
	}
	if cfg.timeout < 0 {
		return cfg, fmt.Errorf("%w: --timeout %v: must not be negative", errUsage, cfg.timeout)
	}
	if cfg.bindTo != bindCore && cfg.bindTo != bindNone {
		return cfg, fmt.Errorf("%w: --bind-to %q: want core or none", errUsage, cfg.bindTo)
	}
	if !slices.Contains(jobenv.Transports(), cfg.transport) {
		return cfg, fmt.Errorf("%w: --transport %q: want %s", errUsage, cfg.transport, strings.Join(jobenv.Transports(), " or "))
	}
	if set["nats"] {
		if set["transport"] && cfg.transport != jobenv.TransportNATS {
			return cfg, fmt.Errorf("%w: --nats needs --transport nats, not %s", errUsage, cfg.transport)
		}
		if cfg.nats.URL == "" {
			return cfg, fmt.Errorf("%w: --nats: empty URL", errUsage)
		}
		cfg.transport = jobenv.TransportNATS
	}
	if cfg.transport != jobenv.TransportNATS {
		for _, name := range []string{"nats-creds", "nats-ca"} {
			if set[name] {
				return cfg, fmt.Errorf("%w: --%s needs --transport nats or --nats URL", errUsage, name)
			}
		}
	} else if cfg.nats.URL == "" {
		cfg.nats.URL = getenv("NATS_URL")
	}
	if err := checkHostsFlags(cfg, set); err != nil {
		return cfg, err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return cfg, fmt.Errorf("%w: missing PROGRAM to run", errUsage)
	}
	cfg.program, cfg.args = rest[0], rest[1:]
	if cfg.program == "" {
		return cfg, fmt.Errorf("%w: PROGRAM is an empty string", errUsage)
	}
	return cfg, nil
}

// printUsage writes the usage text, listing every flag, to w.
func printUsage(w io.Writer) {
	var cfg config
	fs := newFlagSet(&cfg)
	fmt.Fprint(w, usageHead)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, usageTail)
}

// usageFailure prints a command-line error and a hint, returning exit 2.
func usageFailure(err error) int {
	msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
	fmt.Fprintf(os.Stderr, "gorun: %s\nRun 'gorun --help' for usage.\n", msg)
	return 2
}
