package comm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSConfig configures a NATS transport.
type NATSConfig struct {
	Rank, Size int
	// JobID and Secret come from gorun (GORUN_JOB_ID, GORUN_SECRET). The
	// job's subjects live under a prefix derived from both (NATSPrefix), and
	// every frame carries an authenticator derived from Secret.
	JobID, Secret string
	// URL of the server, with credentials if any: nats://user:pass@host:port,
	// nats://token@host:port, tls://host:port.
	URL string
	// CredsFile is a NATS credentials file (--nats-creds); CAFile a CA
	// certificate for the server's TLS certificate (--nats-ca).
	CredsFile, CAFile string
	// MaxFrame is the largest payload accepted; 0 means DefaultMaxFrame.
	MaxFrame uint64
	// ConnectTimeout bounds connecting to the server; 0 means 5 s.
	ConnectTimeout time.Duration
	// ReadyTimeout bounds the wait for a peer to subscribe before the first
	// frame to it; 0 means DefaultDialTimeout.
	ReadyTimeout time.Duration
	// Heartbeat is how often a rank tells the others it is alive; 0 means
	// DefaultNATSHeartbeat. PeerTimeout is how long a silent peer is given
	// before it is reported lost; 0 means DefaultNATSPeerTimeout, and a
	// negative value turns the check off, for ranks whose launcher watches
	// their processes (gorun) and ends the job when one is lost: silence is
	// no fact (a loaded server can hold a live peer's messages back longer
	// than any timeout), a process's exit is.
	Heartbeat, PeerTimeout time.Duration
	// Window is the credit window in bytes per sender and receiver: how much
	// a sender may have in flight to one receiver before that receiver has
	// consumed it. 0 means DefaultNATSWindow (raised to hold two of the
	// largest messages the transport sends).
	Window uint64
	// Peers lists the ranks this transport serves; nil means every other
	// rank of the job. Frames to other ranks are refused with ErrBadRank,
	// frames from them are dropped, and Close says goodbye only to Peers.
	Peers []int
}

// Defaults of NATSConfig.
const (
	DefaultNATSHeartbeat   = time.Second
	DefaultNATSPeerTimeout = 20 * time.Second
	DefaultNATSWindow      = 8 << 20
	// DefaultNATSEagerLimit is the eager limit the NATS transport asks for
	// to every destination (EagerLimiter) under a server of NATS's default
	// max_payload (1 MiB): 1 MiB less 128 bytes. The limit is the largest
	// payload of a frame that travels as one message (EagerLimit), so that
	// its receiver hands on the message NATS allocated, with no reassembly;
	// the servers gorun runs allow 8 MiB (DefaultNATSMaxPayload), so there
	// the limit is NATSMaxMessage less 128 bytes and a 1 MiB message goes
	// eagerly too. Anything larger (above PushLimit, which the layer above
	// pushes: announced, then its body at once) goes by rendezvous, whose body lands in
	// the posted receive's buffer (BufferProvider) instead of a new
	// allocation plus a copy, and leaves the sender's memory with no copy
	// of ours (natsHeaderKey). A rendezvous costs a round trip through the
	// server: four more hops through it per message, each a wake-up of the
	// server and of a rank, where raw NATS request/reply makes two.
	// Below 1 MiB, a 128 KiB message took 263 us eagerly against 856 us
	// for 256 KiB by rendezvous on the netns rig. An eager limit of two
	// messages (a 1 MiB message in two under a 1 MiB server, put back
	// together by the receiver) was measured and lost: the receiver then
	// makes a fresh buffer for every such message and copies the body into
	// it, and a fresh 1 MiB costs more (page faults, a cold cache) than
	// the rendezvous's round trip and its copy into the posted receive's
	// warm buffer (gorun/raw 1.25 to 1.39 against 1.21 to 1.26, 1 MiB
	// ping-pong, alternated runs on a loaded machine, natsvs on the netns
	// rig). The credit window (DefaultNATSWindow,
	// 8 MiB) bounds what a sender has in flight to a receiver.
	DefaultNATSEagerLimit = 1<<20 - natsHeaderReserve
	// NATSMaxMessage is the largest message the transport sends, whatever
	// the server allows: a 1 MiB payload with its headers fits one, and a
	// frame of many MiB still goes in pieces that the server forwards one
	// while it reads the next, and that a credit window of 8 MiB holds
	// four of.
	NATSMaxMessage = 2 << 20
	// DefaultNATSMaxPayload is the max_payload of the NATS servers gorun
	// runs (its embedded one, gorun agent --serve): the largest message
	// NATS's documentation recommends. An external server keeps its own
	// limit (NATS's default is 1 MiB), which the transport reads when it
	// connects.
	DefaultNATSMaxPayload = 8 << 20
	defaultConnectTimeout = 5 * time.Second
)

// NATSPrefix is the subject prefix of a job: unguessable without the
// job's secret. gorun's embedded server limits the job's user to it.
func NATSPrefix(jobID, secret string) string {
	sum := sha256.Sum256([]byte("gorun nats subjects\x00" + jobID + "\x00" + secret))
	return "gorun." + hex.EncodeToString(sum[:12])
}

// RedactURL returns u with any password or token replaced, for messages.
func RedactURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil || parsed.User == nil {
		return u
	}
	if _, hasPass := parsed.User.Password(); hasPass {
		return parsed.Redacted()
	}
	parsed.User = url.User("xxxxx") // a bare token
	return parsed.String()
}

// NATS is a Transport through a NATS server; it implements PartsSender and
// EagerLimiter. Every rank subscribes to one inbox subject under the job's
// prefix; frames are NATS messages carrying the job's authenticator, a
// per-pair sequence number (a gap is fatal) and the frame header. NATS core may drop messages; this transport makes that
// impossible or loud:
//   - no rank sends to a peer before it has heard that the peer's inbox is
//     subscribed (readiness handshake on the job's broadcast subject);
//   - a per-pair credit window bounds what a receiver holds unconsumed, and
//     the subscription has no pending limit, so no slow-consumer drop;
//   - reconnects are disabled: losing the server, a slow-consumer event or
//     a sequence gap ends every peer with ErrPeerLost;
//   - frames larger than the server's max_payload travel in chunks,
//     reassembled into one buffer of the announced size.
//
// Peers that vanish without a goodbye are noticed by their missing
// heartbeats (PeerTimeout).
type NATS struct {
	cfg     NATSConfig
	nc      *nats.Conn
	prefix  string
	auth    [authLen]byte
	inboxes []string // subject of each rank's inbox
	allSubj string   // broadcast subject: alive messages
	maxMsg  int      // the largest message sent: max_payload, at most NATSMaxMessage
	headers bool     // the server takes NATS headers (see natsHeaderKey)

	peers []*natsPeer // index = rank; nil for ourselves

	hmu     sync.Mutex // serialises calls into handler
	handler Handler
	subs    []*nats.Subscription

	mu       sync.Mutex
	closed   bool
	fatalErr error
	fatal    chan struct{} // closed on the first fatal error
	closing  chan struct{} // closed by Close
	stopped  chan struct{} // heartbeat goroutine ended
	started  bool
	rejected uint64 // frames dropped for a bad authenticator
}

// natsPeer is one peer's state, both directions.
type natsPeer struct {
	rank  int
	ready chan struct{} // closed once its inbox is known to be subscribed
	once  sync.Once

	// sending to the peer
	sendMu  sync.Mutex
	seq     uint64 // last pair sequence used
	sent    uint64 // cumulative credit cost sent
	granted uint64 // cumulative credit cost the peer allows (under creditMu)
	credit  chan struct{}
	buf     []byte // message under construction (under sendMu)

	creditMu sync.Mutex

	// receiving from the peer (under NATS.hmu: the subscription callback is serial)
	expect    uint64 // next pair sequence expected
	consumed  uint64 // cumulative credit cost consumed
	lastGrant uint64 // consumed value last granted
	asm       *assembly
	gone      bool
	acked     bool                  // we answered its first alive message
	goneCh    chan struct{}         // closed once it is gone, to wake senders
	goneErr   atomic.Pointer[error] // why it is gone, for senders
	lastSeen  atomic.Int64          // unix nanoseconds of its last message
}

// goneError returns why p will receive nothing more, or nil.
func (p *natsPeer) goneError() error {
	if e := p.goneErr.Load(); e != nil {
		return *e
	}
	return nil
}

// assembly is a chunked frame being put back together: its payload's
// first off bytes are in, or, until its second message, its first
// message's data is (first; Payload is nil) and it will be total bytes
// long.
type assembly struct {
	f     Frame
	off   int
	first []byte
	total int
}

// NewNATS connects to the server (within ConnectTimeout, reconnects off).
// Start then subscribes this rank's inbox and announces it; frames are
// delivered from then on.
func NewNATS(cfg NATSConfig) (*NATS, error) {
	if cfg.Size < 1 || cfg.Rank < 0 || cfg.Rank >= cfg.Size {
		return nil, fmt.Errorf("comm: nats transport: rank %d of %d: %w", cfg.Rank, cfg.Size, ErrBadRank)
	}
	if _, err := peerSet(cfg.Rank, cfg.Size, cfg.Peers); err != nil {
		return nil, fmt.Errorf("comm: nats transport: %w", err)
	}
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = DefaultMaxFrame
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultDialTimeout
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultNATSHeartbeat
	}
	if cfg.PeerTimeout == 0 {
		cfg.PeerTimeout = DefaultNATSPeerTimeout
	}
	t := newNATS(cfg)
	if err := t.connect(); err != nil {
		return nil, err
	}
	return t, nil
}

// newNATS returns the transport's state for cfg (defaults applied, peers
// checked), not yet connected.
func newNATS(cfg NATSConfig) *NATS {
	peer, _ := peerSet(cfg.Rank, cfg.Size, cfg.Peers)
	t := &NATS{
		cfg:     cfg,
		prefix:  NATSPrefix(cfg.JobID, cfg.Secret),
		fatal:   make(chan struct{}),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
		peers:   make([]*natsPeer, cfg.Size),
	}
	mac := hmac.New(sha256.New, []byte(cfg.Secret))
	mac.Write([]byte("gorun nats frame v1\x00" + cfg.JobID))
	copy(t.auth[:], mac.Sum(nil))
	t.allSubj = t.prefix + ".all"
	t.inboxes = make([]string, cfg.Size)
	now := time.Now()
	for r := range cfg.Size {
		t.inboxes[r] = t.prefix + ".r" + strconv.Itoa(r)
		if peer[r] {
			t.peers[r] = &natsPeer{rank: r, ready: make(chan struct{}), credit: make(chan struct{}, 1), expect: 1, goneCh: make(chan struct{})}
			t.peers[r].lastSeen.Store(now.UnixNano())
		}
	}
	return t
}

// connect dials the server with reconnects off and the error handlers that
// turn any loss into a fatal error.
func (t *NATS) connect() error {
	opts := []nats.Option{
		nats.Name(fmt.Sprintf("gorun %s rank %d", t.cfg.JobID, t.cfg.Rank)),
		nats.Timeout(t.cfg.ConnectTimeout),
		nats.NoReconnect(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				err = errors.New("connection closed")
			}
			t.die(fmt.Errorf("lost the NATS server at %s: %v", RedactURL(t.cfg.URL), err))
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			t.die(fmt.Errorf("connection to the NATS server at %s closed", RedactURL(t.cfg.URL)))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			t.die(fmt.Errorf("NATS server at %s: %v (messages may have been dropped)", RedactURL(t.cfg.URL), err))
		}),
	}
	if t.cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(t.cfg.CredsFile))
	}
	if t.cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(t.cfg.CAFile))
	}
	nc, err := nats.Connect(t.cfg.URL, opts...)
	if err != nil {
		return fmt.Errorf("comm: rank %d cannot connect to the NATS server at %s: %w: %w", t.cfg.Rank, RedactURL(t.cfg.URL), ErrPeerLost, err)
	}
	t.nc = nc
	if nc.MaxPayload() < 1024 {
		nc.Close()
		return fmt.Errorf("comm: NATS server at %s allows only %d-byte messages", RedactURL(t.cfg.URL), nc.MaxPayload())
	}
	t.maxMsg = int(min(nc.MaxPayload(), NATSMaxMessage))
	t.headers = nc.HeadersSupported()
	minWindow := 2 * uint64(t.maxMsg+msgOverhead)
	if t.cfg.Window == 0 {
		t.cfg.Window = DefaultNATSWindow
	}
	t.cfg.Window = max(t.cfg.Window, minWindow)
	return nil
}

// Rank returns this transport's rank.
func (t *NATS) Rank() int { return t.cfg.Rank }

// Size returns the number of ranks in the job.
func (t *NATS) Size() int { return t.cfg.Size }

// EagerLimit returns, for every destination, the largest frame payload
// that travels as one message: the server's max_payload, at most
// NATSMaxMessage, less 128 bytes for the transport's headers (see
// DefaultNATSEagerLimit and EagerLimiter).
func (t *NATS) EagerLimit(int) int { return t.maxMsg - natsHeaderReserve }

// PushLimit returns, for every destination, NATSMaxMessage less 128 bytes
// when the server's max_payload keeps the eager limit below it (NATS's
// default of 1 MiB does), else 0 (see PushLimiter): under a 1 MiB server a
// message of up to 2 MiB costs less pushed (its announcement, then its
// body in two messages, read into the posted receive's buffer) than
// waiting a round trip for the receiver's clear-to-send.
func (t *NATS) PushLimit(int) int {
	if t.maxMsg >= NATSMaxMessage {
		return 0
	}
	return NATSMaxMessage - natsHeaderReserve
}

// Window returns the credit window in bytes per sender and receiver, as
// raised to hold two of the largest messages the transport sends.
func (t *NATS) Window() uint64 { return t.cfg.Window }

// Prefix returns the job's subject prefix.
func (t *NATS) Prefix() string { return t.prefix }

// Start subscribes this rank's inbox and the job's broadcast subject,
// announces itself, and delivers incoming frames to h from then on.
func (t *NATS) Start(h Handler) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return fmt.Errorf("comm: nats rank %d: Start called twice", t.cfg.Rank)
	}
	if t.closed {
		return fmt.Errorf("comm: nats rank %d: %w", t.cfg.Rank, ErrClosed)
	}
	t.handler = h
	for _, subj := range []string{t.inboxes[t.cfg.Rank], t.allSubj} {
		sub, err := t.nc.Subscribe(subj, t.onMsg)
		if err != nil {
			return fmt.Errorf("comm: nats rank %d: subscribe %s: %w", t.cfg.Rank, subj, err)
		}
		// No client-side limit: the credit window bounds what we hold, and
		// a limit would drop messages instead of slowing senders.
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return fmt.Errorf("comm: nats rank %d: %w", t.cfg.Rank, err)
		}
		t.subs = append(t.subs, sub)
	}
	// The server has registered our subscriptions once Flush returns; only
	// then may peers learn that we are ready.
	if err := t.nc.FlushTimeout(t.cfg.ConnectTimeout); err != nil {
		return fmt.Errorf("comm: nats rank %d: registering subscriptions at %s: %w: %w", t.cfg.Rank, RedactURL(t.cfg.URL), ErrPeerLost, err)
	}
	t.announce(msgAlive, t.allSubj)
	// Only a successful Start counts: Close then says goodbye and waits for
	// the heartbeat goroutine.
	t.started = true
	go t.heartbeats()
	return nil
}

// Rejected reports how many messages were dropped because their
// authenticator did not match this job's secret.
func (t *NATS) Rejected() uint64 {
	t.hmu.Lock()
	defer t.hmu.Unlock()
	return t.rejected
}

// die records the first fatal error and reports every peer lost.
func (t *NATS) die(err error) {
	t.hmu.Lock()
	defer t.hmu.Unlock()
	t.dieLocked(err)
}

// dieLocked is die with t.hmu held.
func (t *NATS) dieLocked(err error) {
	t.mu.Lock()
	if t.fatalErr != nil || t.closed {
		t.mu.Unlock()
		return
	}
	t.fatalErr = err
	close(t.fatal)
	t.mu.Unlock()
	for _, p := range t.peers {
		t.peerGoneLocked(p, fmt.Errorf("comm: rank %d: %w: %v", t.cfg.Rank, ErrPeerLost, err))
	}
}

// peerGoneLocked reports p gone once; t.hmu is held.
func (t *NATS) peerGoneLocked(p *natsPeer, err error) {
	if p == nil || p.gone || t.handler == nil {
		return
	}
	p.gone = true
	p.goneErr.Store(&err)
	close(p.goneCh)
	t.handler.PeerGone(p.rank, err)
}

// Close says goodbye to every peer after our last frame, then closes the
// connection. Peers that have not subscribed yet are waited for (up to
// ReadyTimeout) so that they too learn we finished.
func (t *NATS) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	fatal := t.fatalErr
	started := t.started
	t.mu.Unlock()
	if fatal == nil && started {
		deadline := time.NewTimer(t.cfg.ReadyTimeout)
		defer deadline.Stop()
		for _, p := range t.peers {
			if p == nil {
				continue
			}
			select {
			case <-p.ready:
			case <-p.goneCh:
			case <-t.fatal:
			case <-deadline.C:
			}
			select {
			case <-p.ready:
				p.sendMu.Lock()
				_ = t.publishGoodbye(p)
				p.sendMu.Unlock()
			default:
			}
		}
		_ = t.nc.FlushTimeout(t.cfg.ConnectTimeout)
	}
	t.mu.Lock()
	t.closed = true
	close(t.closing)
	t.mu.Unlock()
	if started {
		<-t.stopped
	}
	for _, sub := range t.subs {
		_ = sub.Unsubscribe()
	}
	t.nc.Close()
	return nil
}
