package mpi

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/launchtrace"
	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// worldState is one world: its engine, and its link to the launcher.
type worldState struct {
	e         *engine
	ctl       *control.Client     // nil without gorun or with WithTransport
	arena     *shmcoll.Region     // shared memory of the world's ranks, all on this host; nil if none
	hostArena *shmcoll.Region     // in a job over several hosts: shared memory of this host's ranks; nil if none
	trace     *tracer             // gorun --trace; nil when off
	placement []int               // host index per world rank; nil: one host
	stamps    *launchtrace.Stamps // GORUN_LAUNCH_TRACE; nil when off
	once      sync.Once
	err       error
}

// process holds the process's own world, joined by Init.
var process struct {
	mu        sync.Mutex
	world     *Comm
	finalized bool
}

// Init joins the job gorun started and returns its world communicator.
// Without gorun it returns a world of size 1, so `go run ./prog` works.
// Calling it again returns the same world. With WithTransport it builds a
// separate world over that transport instead (for tests).
func Init(opts ...Option) (*Comm, error) {
	cfg, err := configure(opts)
	if err != nil {
		return nil, err
	}
	if cfg.transport != nil {
		world, err := startWorld(cfg.transport, cfg.transport.Rank(), cfg.transport.Size(), nil, cfg)
		if err == nil && cfg.hostMemory != nil {
			err = world.shared.world.useHostMemory(cfg.hostMemory, world.rank)
		}
		return world, err
	}
	process.mu.Lock()
	defer process.mu.Unlock()
	if process.world != nil {
		return process.world, nil
	}
	if process.finalized {
		return nil, fmt.Errorf("%w: Init after Finalize", ErrFinalized)
	}
	job, launched, err := jobenv.Lookup()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInit, err)
	}
	if !launched {
		world, err := startWorld(nil, 0, 1, nil, cfg)
		process.world = world
		return world, err
	}
	stamps := launchtrace.New("rank "+strconv.Itoa(job.Rank), os.Getenv, os.Stderr)
	stamps.Mark("Init")
	if err := takeLauncherTimerSlack(os.Getenv(jobenv.TimerSlack)); err != nil {
		return nil, fmt.Errorf("%w: rank %d: %w", ErrInit, job.Rank, err)
	}
	tr, err := newTracerFromEnv()
	if err != nil {
		return nil, err
	}
	var ctl *control.Client
	var reporting atomic.Pointer[engine] // set once the world's engine exists
	if job.Control != "" {
		if ctl, err = control.Dial(job.Control, job.Rank, job.Secret); err != nil {
			return nil, fmt.Errorf("%w: rank %d: %w", ErrInit, job.Rank, err)
		}
		rank := job.Rank
		ctl.WatchLauncher(func(m control.Message) {
			if m.Type == control.TypeConfirm {
				if e := reporting.Load(); e != nil {
					e.blocked.confirm(m.Round)
				}
			}
			tr.answerLauncher(ctl, m)
		}, func() {
			fmt.Fprintf(os.Stderr, "mpi: rank %d: the gorun launcher is gone; exiting\n", rank)
			os.Exit(1)
		})
		stamps.Mark("hello sent")
	}
	cfg.placement = job.Placement
	t, err := jobTransport(job)
	if err != nil {
		if ctl != nil {
			ctl.Close()
		}
		return nil, fmt.Errorf("%w: rank %d: %w", ErrInit, job.Rank, err)
	}
	stamps.Mark("listening")
	world, err := startWorld(t, job.Rank, job.Size, ctl, cfg)
	if err != nil {
		return nil, err
	}
	world.shared.world.stamps = stamps
	stamps.Mark("world started")
	reporting.Store(world.e)
	world.shared.world.trace = tr
	if job.Size > 1 {
		arena, host, err := openArena(world.e, job)
		if err != nil {
			world.Finalize()
			return nil, fmt.Errorf("%w: rank %d: shared memory from gorun: %w", ErrInit, job.Rank, err)
		}
		if host {
			world.shared.world.hostArena = arena
		} else {
			world.shared.world.arena = arena
		}
	}
	stamps.Mark("Init done")
	process.world = world
	return world, nil
}

// startWorld builds the engine over t and the world communicator.
func startWorld(t comm.Transport, rank, size int, ctl *control.Client, cfg config) (*Comm, error) {
	e := newEngine(t, rank, size, cfg)
	if ctl != nil {
		e.blocked = newBlockReporter(ctl, e.sent, e.received, &e.busy, e.unmatched)
	}
	if t != nil {
		if err := t.Start(e); err != nil {
			return nil, fmt.Errorf("%w: rank %d: %w", ErrInit, rank, err)
		}
	}
	group := make([]int, size)
	for i := range group {
		group[i] = i
	}
	return newComm(e, 0, group, &worldState{e: e, ctl: ctl, placement: cfg.placement}), nil
}

// configure applies the environment (GORUN_EAGER_LIMIT, GORUN_SPIN), then
// the options.
func configure(opts []Option) (config, error) {
	cfg := config{eagerLimit: DefaultEagerLimit, spin: DefaultSpin}
	if v := os.Getenv("GORUN_EAGER_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return cfg, fmt.Errorf("%w: GORUN_EAGER_LIMIT=%q is not a number of bytes", ErrInit, v)
		}
		cfg.eagerLimit, cfg.eagerSet = n, true
	}
	if v := os.Getenv(jobenv.Spin); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, fmt.Errorf("%w: %s=%q is not a duration (e.g. 50us)", ErrInit, jobenv.Spin, v)
		}
		cfg.spin, cfg.spinSet = d, true
	}
	if v := os.Getenv(CopyDelayEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, fmt.Errorf("%w: %s=%q is not a duration (e.g. 2s)", ErrInit, CopyDelayEnv, v)
		}
		cfg.copyDelay = d
	}
	if os.Getenv(jobenv.SyncSends) == "1" {
		cfg.syncSends = true
	}
	if os.Getenv("GORUN_SINGLE_COPY") == "0" {
		cfg.noPull = true
	}
	if os.Getenv(jobenv.Yield) == "1" {
		cfg.yield = true
		if !cfg.spinSet {
			cfg.spin = DefaultYieldSpin
		}
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	return cfg, nil
}

// Finalize leaves the job: pending receives fail with ErrFinalized, peers
// learn that this rank finished (their calls waiting on it fail with
// ErrPeerLost), and the launcher is told this rank ended cleanly. Every
// rank must call it before exiting; calling it again does nothing.
func Finalize() error {
	process.mu.Lock()
	world := process.world
	process.world, process.finalized = nil, world != nil || process.finalized
	process.mu.Unlock()
	if world == nil {
		return nil
	}
	return world.Finalize()
}

// Finalize on the world communicator finalizes the world (see the package
// function Finalize); it is how a world built with WithTransport ends. On a
// communicator made by Split or Dup it frees that communicator only (as
// MPI_Comm_free does): see free.
func (c *Comm) Finalize() error {
	if c == nil {
		return ErrNilComm
	}
	if c.ctx != 0 {
		return c.free()
	}
	w := c.shared.world
	w.once.Do(func() { w.err = w.finalize() })
	return w.err
}

func (w *worldState) finalize() error {
	w.stamps.Mark("Finalize")
	defer w.stamps.Mark("Finalize done")
	w.reportFrames()
	e := w.e
	closed := ErrFinalized // every call wraps it in an *Error naming the rank
	e.mu.Lock()
	e.closed = closed
	e.finalized.Store(true)
	posted := e.match.takePosted(func(*recvOp) bool { return true })
	var sends []*sendOp
	for id, op := range e.sends {
		sends = append(sends, op)
		delete(e.sends, id)
	}
	wake := e.takeArrival(true)
	e.mu.Unlock()
	for _, r := range posted {
		r.finish(closed)
	}
	for _, op := range sends {
		op.finish(closed)
	}
	if wake != nil {
		wake.finish(nil)
	}
	if e.blocked != nil {
		e.blocked.close()
	}
	var err error
	if w.ctl != nil && w.trace != nil {
		// The calls are over: gorun --trace may read the records while
		// this rank says its goodbyes (which wait for its peers).
		if cerr := w.trace.handOver(w.ctl); cerr != nil {
			err = fmt.Errorf("mpi: rank %d Finalize: trace: %w", e.rank, cerr)
		}
	}
	if e.t != nil {
		// Frames still on their way out (a clear-to-send that tells a
		// sender its body was taken) must leave before the goodbye. Each
		// ends when sent or when its peer is gone.
		e.awaitAsync()
		if cerr := e.t.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("mpi: rank %d Finalize: %w", e.rank, cerr)
		}
		w.stamps.Mark("transport closed (goodbyes said)")
	}
	if w.ctl != nil {
		// The final counters: what this rank sent and received stays part
		// of the others' deadlock picture after it is gone.
		final := control.Message{Type: control.TypeFinalized, Sent: snapshot(e.sent), Received: snapshot(e.received)}
		if cerr := w.ctl.Send(final); cerr != nil && err == nil {
			err = fmt.Errorf("mpi: rank %d Finalize: %w", e.rank, cerr)
		}
	}
	return err
}

// Abort ends the whole job: gorun tears down every rank and exits with
// code, printing reason. It never returns.
func Abort(code int, reason string) {
	process.mu.Lock()
	world := process.world
	process.mu.Unlock()
	if world != nil && world.shared.world.ctl != nil {
		if world.shared.world.ctl.Send(control.Message{Type: control.TypeAbort, Code: code, Reason: reason}) == nil {
			os.Exit(code)
		}
	}
	rank := 0
	if world != nil {
		rank = world.rank
	}
	fmt.Fprintf(os.Stderr, "mpi: rank %d called Abort(%d): %s\n", rank, code, reason)
	os.Exit(code)
}
