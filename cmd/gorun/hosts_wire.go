package main

import (
	"encoding/json"
	"time"

	"github.com/gorun-mpi/gorun/internal/control"
)

// The conversation between a launcher and its agents, over NATS. Every
// message is one JSON object; those of a job (<job ctl>.*, but ship) are
// sealed by relay_auth.go (numbered and authenticated).
//
//	agentsSubject                      discovery: every agent replies agentInfo
//	agentSubject(name, "reserve")      reserveRequest -> reserveReply
//	agentSubject(name, "launch")       launchRequest  -> launchReply
//	<job ctl>.up.<host>                agent -> launcher: upMsg, in order
//	<job ctl>.down.<host>              launcher -> agent: downMsg
//	<job ctl>.hb                       launcher's heartbeat to every agent
//	<job ctl>.stdin                    launcher -> rank 0's agent: stdinChunk (request, acknowledged)
//	<job ctl>.ship                     agent -> launcher: shipRequest -> program bytes
const (
	agentsSubject = "gorun.agents"
	// heartbeatEvery is how often launcher and agents tell each other
	// they are alive; heartbeatLease is how long a silence ends the job.
	heartbeatEvery = 1 * time.Second
	heartbeatLease = 3 * time.Second
	// requestTimeout bounds a reserve or discovery request.
	requestTimeout = 5 * time.Second
	// launchTimeout bounds a launch request, which may ship the program.
	launchTimeout = 2 * time.Minute
)

// agentSubject is the subject of one of agent name's services.
func agentSubject(name, service string) string {
	return "gorun.agent." + name + "." + service
}

// agentInfo is what an agent tells about itself.
type agentInfo struct {
	Name    string `json:"name"`
	Slots   int    `json:"slots"`
	Free    int    `json:"free"`
	GOOS    string `json:"goos"`
	GOARCH  string `json:"goarch"`
	Version string `json:"version"`
	Server  string `json:"server,omitempty"` // the NATS server it is connected to (password hidden)
}

// platform is "linux/amd64".
func (a agentInfo) platform() string { return a.GOOS + "/" + a.GOARCH }

// reserveRequest asks an agent to hold N slots for a job until it is
// launched (or the reservation lapses).
type reserveRequest struct {
	Job           string `json:"job"`
	N             int    `json:"n"`
	Oversubscribe bool   `json:"oversubscribe,omitempty"`
	Release       bool   `json:"release,omitempty"` // give the job's reservation back
	Auth          string `json:"auth,omitempty"`
}

// reserveReply answers a reserveRequest.
type reserveReply struct {
	OK    bool   `json:"ok"`
	Free  int    `json:"free"`
	Slots int    `json:"slots"`
	Error string `json:"error,omitempty"`
	// Denied: the request was refused for its credentials, not for slots.
	Denied bool `json:"denied,omitempty"`
}

// shipSpec names the program a job runs: its SHA-256, size and the subject
// where its bytes can be fetched.
type shipSpec struct {
	Digest  string `json:"digest"`
	Size    int64  `json:"size"`
	Name    string `json:"name"` // argv[0]
	Subject string `json:"subject"`
	Bucket  string `json:"bucket,omitempty"` // the JetStream object store holding it, if any
}

// launchRequest asks an agent to start some ranks of a job.
type launchRequest struct {
	Job       string   `json:"job"`
	Secret    string   `json:"secret,omitempty"` // in clear only without a cluster secret
	Size      int      `json:"size"`
	Host      int      `json:"host"`      // this agent's index in the job's placement
	Ranks     []int    `json:"ranks"`     // world ranks to start here
	Placement string   `json:"placement"` // host index of every world rank, "0,0,1,1"
	Ctl       string   `json:"ctl"`       // subject prefix of the job's conversation
	Prog      shipSpec `json:"prog"`
	Args      []string `json:"args,omitempty"` // in clear only without a cluster secret
	Tag       bool     `json:"tag,omitempty"`
	SyncSends bool     `json:"sync_sends,omitempty"`
	Stdin     bool     `json:"stdin,omitempty"` // rank 0 is here and reads the launcher's stdin
	Trace     int      `json:"trace,omitempty"` // gorun --trace: the most calls each rank records; 0: off
	// Sealed holds Secret and Args, sealed for the agent with the cluster's
	// secret (see hosts_seal.go); they are empty in clear then.
	Sealed string `json:"sealed,omitempty"`
	Auth   string `json:"auth,omitempty"`
}

// launchReply answers a launchRequest: the pids of the ranks started, in
// the order of Ranks, or why none was.
type launchReply struct {
	Pids    []int  `json:"pids,omitempty"`
	Error   string `json:"error,omitempty"`
	Status  int    `json:"status,omitempty"` // gorun's exit status for Error
	Shipped int64  `json:"shipped"`          // program bytes fetched for this launch
}

// Kinds of upMsg.
const (
	upEvent   = "event"   // a control event of a rank: Event
	upExit    = "exit"    // a rank's process ended: Exit
	upOut     = "out"     // output of a rank: Fd (1 or 2), Data (whole lines, or a piece of one)
	upDrained = "drained" // a rank's output pipes reached their end
	upHB      = "hb"      // the agent is alive
	upDone    = "done"    // the agent ended the job's last rank
	upFail    = "fail"    // the agent could not send a message (Error says which, and why) and ends the job
)

// upMsg is one message of an agent to the launcher.
//
// A rank's control messages go up as they are (upEvent), except a
// control.TypeTrace whose records would not fit a NATS message: its Trace
// goes in pieces of at most relayTraceChunk bytes, each an upEvent of its
// own with More set on all but the last, which the launcher joins back into
// the one message the rank sent (see traceJoiner).
type upMsg struct {
	Kind  string         `json:"kind"`
	Rank  int            `json:"rank"`
	Event *control.Event `json:"event,omitempty"`
	More  bool           `json:"more,omitempty"` // the Event's Trace continues in the next upEvent
	Exit  *wireExit      `json:"exit,omitempty"`
	Fd    int            `json:"fd,omitempty"`
	Data  []byte         `json:"data,omitempty"`
	Error string         `json:"error,omitempty"` // upFail: the line that ends the job
}

// wireExit is exitInfo on the wire.
type wireExit struct {
	Code   int `json:"code"`
	Signal int `json:"signal,omitempty"` // non-zero: killed by this signal
}

// Kinds of downMsg.
const (
	downControl = "ctl"    // send Msg to Rank's control connection
	downSync    = "sync"   // control.Server.Sync(Rank)
	downSignal  = "signal" // signal every rank of the job: Signal
	downEnd     = "end"    // the launcher is done with the job: kill what is left, forget it
)

// downMsg is one message of the launcher to an agent.
type downMsg struct {
	Kind   string           `json:"kind"`
	Rank   int              `json:"rank"`
	Msg    *control.Message `json:"msg,omitempty"`
	Signal int              `json:"signal,omitempty"`
}

// stdinChunk is a piece of the launcher's stdin for rank 0; EOF closes it.
type stdinChunk struct {
	Data []byte `json:"data,omitempty"`
	EOF  bool   `json:"eof,omitempty"`
}

// shipRequest asks the launcher for N bytes of the program from Offset.
type shipRequest struct {
	Offset int64 `json:"offset"`
	N      int   `json:"n"`
}

// mustJSON encodes v, which is always one of the types above.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("gorun: encoding a message of its own: " + err.Error())
	}
	return b
}
