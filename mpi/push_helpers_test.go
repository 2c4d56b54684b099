package mpi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/natsserver"
	"github.com/gorun-mpi/gorun/internal/ranks"
)

// pushSpy wraps a rank's transport for the tests of pushed messages: it
// records the kind of every frame it sends, can hold a rendezvous body back
// until the test releases it (hold) or lose the rank instead of sending it
// (lose), and tells when a body was delivered to its rank (bodies).
type pushSpy struct {
	comm.Transport
	// eager and push are the limits it asks for; 0: those of the
	// transport it wraps (comm.EagerLimiter, comm.PushLimiter).
	eager, push int

	mu    sync.Mutex
	kinds []comm.Kind
	hold  chan struct{} // when set, a body waits in Send until it is closed
	lose  func()        // when set, called instead of sending a body

	bodies chan struct{} // a value per body delivered to this rank
}

func newPushSpy(tr comm.Transport, eager, push int) *pushSpy {
	return &pushSpy{Transport: tr, eager: eager, push: push, bodies: make(chan struct{}, 1000)}
}

func (s *pushSpy) EagerLimit(dest int) int {
	if s.eager > 0 {
		return s.eager
	}
	if el, ok := s.Transport.(comm.EagerLimiter); ok {
		return el.EagerLimit(dest)
	}
	return 0
}

func (s *pushSpy) PushLimit(dest int) int {
	if s.push > 0 {
		return s.push
	}
	if pl, ok := s.Transport.(comm.PushLimiter); ok {
		return pl.PushLimit(dest)
	}
	return 0
}

func (s *pushSpy) Send(ctx context.Context, dest int, h comm.Header, payload []byte) error {
	s.mu.Lock()
	s.kinds = append(s.kinds, h.Kind)
	hold, lose := s.hold, s.lose
	s.mu.Unlock()
	if h.Kind == kindRndvData {
		if lose != nil {
			lose()
			return fmt.Errorf("push test: rank %d lost before sending a body: %w", s.Rank(), comm.ErrClosed)
		}
		if hold != nil {
			<-hold
		}
	}
	return s.Transport.Send(ctx, dest, h, payload)
}

// holdBodies makes the bodies this rank sends wait until release is called.
func (s *pushSpy) holdBodies() (release func()) {
	c := make(chan struct{})
	s.mu.Lock()
	s.hold = c
	s.mu.Unlock()
	return sync.OnceFunc(func() { close(c) })
}

// loseAtBody makes the rank call lose instead of sending its next body.
func (s *pushSpy) loseAtBody(lose func()) {
	s.mu.Lock()
	s.lose = lose
	s.mu.Unlock()
}

// sent returns the kinds of the frames sent so far.
func (s *pushSpy) sent() []comm.Kind {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.kinds)
}

func (s *pushSpy) Start(h comm.Handler) error {
	return s.Transport.Start(spyHandler{h, s.bodies})
}

// spyHandler tells of every body delivered, once the engine handled it.
type spyHandler struct {
	comm.Handler
	bodies chan struct{}
}

func (h spyHandler) Deliver(f comm.Frame) {
	h.Handler.Deliver(f)
	if f.Kind == kindRndvData {
		h.bodies <- struct{}{}
	}
}

func (h spyHandler) BufferFor(hd comm.Header, n int) []byte {
	if bp, ok := h.Handler.(comm.BufferProvider); ok {
		return bp.BufferFor(hd, n)
	}
	return nil
}

// pushNet is a network the push tests run over, with the limits its
// transports ask for.
type pushNet struct {
	name        string
	eager, push int
	// start returns n ranks' spies and a function that loses a rank as a
	// dead process would (or as one that left).
	start func(t *testing.T, n int) (spies []*pushSpy, lose func(rank int))
}

// pushNets: in memory, with small limits (many messages of every kind
// cheaply), and NATS through a real server of NATS's default max_payload
// (1 MiB), whose transport asks for the limits it does.
func pushNets() []pushNet {
	return []pushNet{
		{name: "memory", eager: 1000, push: 64 << 10, start: startMemoryPush},
		{name: "nats", eager: 1<<20 - 128, push: 2<<20 - 128, start: startNATSPush},
	}
}

func startMemoryPush(t *testing.T, n int) ([]*pushSpy, func(int)) {
	net := comm.NewNetwork(n)
	spies := make([]*pushSpy, n)
	job := &ranks.Job{}
	for r := range n {
		spies[r] = newPushSpy(net.Transport(r), 1000, 64<<10)
		job.Transports = append(job.Transports, spies[r])
	}
	t.Cleanup(job.Close)
	return spies, net.Crash
}

func startNATSPush(t *testing.T, n int) ([]*pushSpy, func(int)) {
	jobID, secret := randomHex(t, 8), randomHex(t, 16)
	user := natsserver.NewUser(comm.NATSPrefix(jobID, secret))
	srv, err := natsserver.Start(natsserver.Config{Users: []natsserver.User{user}, MaxPayload: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	spies := make([]*pushSpy, n)
	job := &ranks.Job{}
	t.Cleanup(job.Close) // before the server's shutdown
	for r := range n {
		tr, err := comm.NewNATS(comm.NATSConfig{Rank: r, Size: n, JobID: jobID, Secret: secret,
			URL: srv.URL(user), PeerTimeout: -1})
		if err != nil {
			t.Fatal(err)
		}
		if e, p := tr.EagerLimit(1-min(r, 1)), tr.PushLimit(1-min(r, 1)); e != 1<<20-128 || p != 2<<20-128 {
			t.Fatalf("NATS under a 1 MiB server: eager limit %d, push limit %d, want %d and %d", e, p, 1<<20-128, 2<<20-128)
		}
		spies[r] = newPushSpy(tr, 0, 0)
		job.Transports = append(job.Transports, spies[r])
	}
	return spies, func(rank int) { spies[rank].Transport.Close() }
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// runSpied runs body on one rank per spy and fails t with each rank's error.
func runSpied(t *testing.T, spies []*pushSpy, body func(c *Comm) error, opts ...Option) {
	t.Helper()
	job := &ranks.Job{}
	for _, s := range spies {
		job.Transports = append(job.Transports, s)
	}
	open := func(tr comm.Transport) (*Comm, error) {
		return Init(append([]Option{WithTransport(tr)}, opts...)...)
	}
	errs := ranks.RunWorlds(job, ranks.Limits{Timeout: ranks.TimeoutFor(t, jobTimeout)}, open, func(r int, c *Comm) error {
		return body(c)
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

// pattern returns size bytes that depend on seed and i, to check every byte.
func pattern(seed uint64, i, size int) []byte {
	out := make([]byte, size)
	x := seed*0x9E3779B97F4A7C15 + uint64(i)*0xBF58476D1CE4E5B9 + 1
	for j := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[j] = byte(x)
	}
	return out
}

// checkBytes says where got first differs from want.
func checkBytes(what string, got, want []byte) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	for j := range got {
		if got[j] != want[j] {
			return fmt.Errorf("%s: byte %d of %d is %d, want %d", what, j, len(got), got[j], want[j])
		}
	}
	return nil
}

// kindsOf counts the kinds in kinds.
func kindsOf(kinds []comm.Kind) map[comm.Kind]int {
	out := map[comm.Kind]int{}
	for _, k := range kinds {
		out[k]++
	}
	return out
}
