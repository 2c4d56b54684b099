// Package jobenv is the contract between the gorun launcher and the ranks it
// starts: the environment variables through which a rank learns who it is and
// how to reach its peers and the launcher.
package jobenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Environment variable names set by gorun for every rank.
const (
	Rank      = "GORUN_RANK"       // this rank, 0 <= rank < size
	Size      = "GORUN_SIZE"       // number of ranks
	JobID     = "GORUN_JOB_ID"     // random job identifier (hex)
	Secret    = "GORUN_SECRET"     // per-job secret (hex), checked in every handshake
	Dir       = "GORUN_DIR"        // private 0700 directory of the job's Unix sockets
	Control   = "GORUN_CONTROL"    // Unix socket path of the launcher's control channel
	Transport = "GORUN_TRANSPORT"  // TransportLocal or TransportNATS
	NatsURL   = "GORUN_NATS_URL"   // NATS server URL, with credentials if any
	NatsCreds = "GORUN_NATS_CREDS" // NATS credentials file, if any
	NatsCA    = "GORUN_NATS_CA"    // CA file for the NATS server's TLS certificate, if any
	Spin      = "GORUN_SPIN"       // how long a waiting rank polls before it sleeps (Go duration); 0 disables
	Yield     = "GORUN_YIELD"      // "1": ranks outnumber cores; a polling rank yields its core between polls
	Shm       = "GORUN_SHM_FD"     // inherited descriptor of the job's shared memory file (local transport)
	SyncSends = "GORUN_SYNC_SENDS" // "1" (gorun --sync-sends): every Send behaves as Ssend
	// TimerSlack is the launcher's own timer slack in nanoseconds, set
	// when gorun starts the ranks with a longer one for Go's monitor
	// thread (cmd/gorun's rankTimerSlack): the thread that calls mpi.Init
	// takes this one back, so that the program's own timers keep their
	// usual precision.
	TimerSlack = "GORUN_TIMER_SLACK"
	// Placement is the job's placement: the host index of every world rank,
	// comma-separated, in rank order (e.g. "0,0,1,1": ranks 0 and 1 on one
	// host, 2 and 3 on another). A rank reaches the ranks with its own host
	// index through the local transport (Unix sockets in Dir) and the others
	// through NATS (NatsURL); the shared-memory collectives are off when
	// the placement spans more than one host index, as they assume one
	// host. Empty: every rank uses Transport. See ParsePlacement.
	Placement = "GORUN_PLACEMENT"
)

// Transport names: the values of GORUN_TRANSPORT and of gorun's
// --transport flag.
const (
	// TransportLocal: Unix sockets in the job's directory, and shared
	// memory, between ranks on this host (the default).
	TransportLocal = "local"
	// TransportNATS: every message through a NATS server.
	TransportNATS = "nats"
)

// Transports lists the transport names, the default first.
func Transports() []string { return []string{TransportLocal, TransportNATS} }

// Job is what a rank reads from its environment.
type Job struct {
	Rank, Size int
	JobID      string
	Secret     string
	Dir        string
	Control    string
	Transport  string
	NatsURL    string
	NatsCreds  string
	NatsCA     string
	// Placement is the host index of every rank (GORUN_PLACEMENT), or nil.
	Placement []int
}

// Lookup reads the job description from the environment. ok is false when
// the process was not started by gorun (no GORUN_RANK); err reports a
// malformed environment.
func Lookup() (job Job, ok bool, err error) {
	rankText, present := os.LookupEnv(Rank)
	if !present {
		return Job{}, false, nil
	}
	job.Rank, err = strconv.Atoi(rankText)
	if err != nil {
		return Job{}, true, fmt.Errorf("jobenv: %s=%q is not a number", Rank, rankText)
	}
	sizeText := os.Getenv(Size)
	job.Size, err = strconv.Atoi(sizeText)
	if err != nil || job.Size < 1 {
		return Job{}, true, fmt.Errorf("jobenv: %s=%q is not a positive number", Size, sizeText)
	}
	if job.Rank < 0 || job.Rank >= job.Size {
		return Job{}, true, fmt.Errorf("jobenv: %s=%d is outside [0, %d)", Rank, job.Rank, job.Size)
	}
	job.JobID = os.Getenv(JobID)
	job.Secret = os.Getenv(Secret)
	job.Dir = os.Getenv(Dir)
	job.Control = os.Getenv(Control)
	job.Transport = os.Getenv(Transport)
	if job.Transport == "" {
		job.Transport = TransportLocal
	}
	job.NatsURL = os.Getenv(NatsURL)
	job.NatsCreds = os.Getenv(NatsCreds)
	job.NatsCA = os.Getenv(NatsCA)
	if text := os.Getenv(Placement); text != "" {
		if job.Placement, err = ParsePlacement(text, job.Size); err != nil {
			return Job{}, true, err
		}
	}
	return job, true, nil
}

// ParsePlacement parses a placement (see Placement): size non-negative
// host indices, comma-separated.
func ParsePlacement(text string, size int) ([]int, error) {
	fields := strings.Split(text, ",")
	if len(fields) != size {
		return nil, fmt.Errorf("jobenv: %s=%q names %d ranks, the job has %d", Placement, text, len(fields), size)
	}
	hosts := make([]int, size)
	for r, f := range fields {
		h, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || h < 0 {
			return nil, fmt.Errorf("jobenv: %s=%q: rank %d's host index %q is not a non-negative number", Placement, text, r, f)
		}
		hosts[r] = h
	}
	return hosts, nil
}

// FormatPlacement is the text of a placement, as ParsePlacement reads it.
func FormatPlacement(hosts []int) string {
	parts := make([]string, len(hosts))
	for r, h := range hosts {
		parts[r] = strconv.Itoa(h)
	}
	return strings.Join(parts, ",")
}

// SpansHosts reports whether a placement puts ranks on more than one host.
func SpansHosts(hosts []int) bool {
	for _, h := range hosts {
		if h != hosts[0] {
			return true
		}
	}
	return false
}

// HostRanks returns the ranks that placement puts on rank's host, in
// ascending order: the group whose shared memory gorun makes on that host,
// in which rank's index is its place in this list.
func HostRanks(hosts []int, rank int) []int {
	var out []int
	for r, h := range hosts {
		if h == hosts[rank] {
			out = append(out, r)
		}
	}
	return out
}

// Environ returns the variables for one rank of job, as "NAME=value" pairs to
// append to a child's environment.
func (j Job) Environ() []string {
	env := []string{
		Rank + "=" + strconv.Itoa(j.Rank),
		Size + "=" + strconv.Itoa(j.Size),
		JobID + "=" + j.JobID,
		Secret + "=" + j.Secret,
		Dir + "=" + j.Dir,
		Control + "=" + j.Control,
		Transport + "=" + j.Transport,
	}
	if j.NatsURL != "" {
		env = append(env, NatsURL+"="+j.NatsURL)
	}
	if j.NatsCreds != "" {
		env = append(env, NatsCreds+"="+j.NatsCreds)
	}
	if j.NatsCA != "" {
		env = append(env, NatsCA+"="+j.NatsCA)
	}
	if j.Placement != nil {
		env = append(env, Placement+"="+FormatPlacement(j.Placement))
	}
	return env
}

// SocketPath is the path of rank's listening Unix socket in dir.
func SocketPath(dir string, rank int) string {
	return fmt.Sprintf("%s/r%d.sock", dir, rank)
}
