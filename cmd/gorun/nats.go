package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/natsd"
)

// natsReachTimeout bounds the check that an external server answers.
const natsReachTimeout = 5 * time.Second

// prepareNATS readies the NATS server a job will use and fills in job's
// NATS fields. Without a URL it starts gorun's own server (gorun-natsd, see
// package natsd) on a free loopback port, with a user of its own that may
// only publish and subscribe under the job's prefix; should that server
// end before the job, fail ends the job. With a URL it checks within 5 s
// that the server answers, and watches it for the rest of the job: losing
// it calls fail too. cleanup stops the server or the watch.
func prepareNATS(cfg natsConfig, job *jobenv.Job, fail func(reason string, status int)) (cleanup func(), err error) {
	if cfg.URL == "" {
		return startEmbeddedNATS(job, fail)
	}
	job.NatsURL = cfg.URL
	for _, f := range []struct {
		path string
		into *string
	}{{cfg.Creds, &job.NatsCreds}, {cfg.CA, &job.NatsCA}} {
		if f.path == "" {
			continue
		}
		abs, err := filepath.Abs(f.path)
		if err != nil {
			return nil, fmt.Errorf("gorun: %w", err)
		}
		*f.into = abs
	}
	var ending atomic.Bool
	lost := func(why string) {
		if !ending.Load() {
			fail(fmt.Sprintf("gorun: lost the NATS server at %s: %s", comm.RedactURL(cfg.URL), why), 1)
		}
	}
	dial := cfg
	dial.Creds, dial.CA = job.NatsCreds, job.NatsCA // made absolute above
	nc, err := dialLauncherNATS(dial, "gorun "+job.JobID+" launcher", lost)
	if err != nil {
		return nil, fmt.Errorf("gorun: %w", err)
	}
	return func() {
		ending.Store(true)
		nc.Close()
	}, nil
}

// startEmbeddedNATS starts gorun-natsd for one job and watches it: its end
// before cleanup calls fail.
func startEmbeddedNATS(job *jobenv.Job, fail func(reason string, status int)) (cleanup func(), err error) {
	user := natsd.NewUser(comm.NATSPrefix(job.JobID, job.Secret))
	srv, err := natsd.Start(natsd.Config{Users: []natsd.User{user}, MaxPayload: comm.DefaultNATSMaxPayload},
		natsd.Options{Log: os.Stderr})
	if err != nil {
		return nil, fmt.Errorf("gorun: %w", err)
	}
	job.NatsURL = srv.URL(user)
	stopping := make(chan struct{})
	go func() {
		select {
		case <-srv.Done():
			fail(fmt.Sprintf("gorun: the job's NATS server (%s, pid %d) ended before the job: %s", natsd.Program, srv.Pid(), srv.Exit()), 1)
		case <-stopping:
		}
	}()
	return func() {
		close(stopping)
		srv.Shutdown()
	}, nil
}
