package comm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/comm/commtest"
)

// placements of the composite tests: host index per rank (ranks on the
// same host reach each other through Unix sockets, others through NATS).
// split puts ranks 0 and 1 on different hosts, mixed on the same one.
var placements = map[string]func(r int) int{
	"split": func(r int) int { return r % 2 },
	"mixed": func(r int) int { return min(r/2, 1) },
}

// peersOf returns the ranks of n on the same host as rank, and the others,
// each a non-nil list (nil would mean every rank).
func peersOf(rank, n int, host func(int) int) (local, remote []int) {
	local, remote = []int{}, []int{}
	for r := range n {
		switch {
		case r == rank:
		case host(r) == host(rank):
			local = append(local, r)
		default:
			remote = append(remote, r)
		}
	}
	return local, remote
}

// TestCompositeConformance runs the suite over composites of a Unix and a
// NATS transport, with two placements.
func TestCompositeConformance(t *testing.T) {
	srv := startNATSServer(t, 64<<10)
	for name, host := range placements {
		t.Run(name, func(t *testing.T) {
			commtest.Run(t, func(t *testing.T, n int) commtest.Job {
				us, _ := unixJob(t, n, func(c *comm.UnixConfig) { c.Peers, _ = peersOf(c.Rank, n, host) })
				ts := natsJob(t, srv.URL(srv.admin), t.Name(), "secret", n, func(c *comm.NATSConfig) { _, c.Peers = peersOf(c.Rank, n, host) })
				job := commtest.Job{
					PeerMemory: func(a, b int) bool { return host(a) == host(b) },
					EagerLimit: func(a, b int) int {
						if host(a) == host(b) {
							return 0
						}
						return 64<<10 - 128 // the server's max_payload less the NATS transport's 128 bytes
					},
				}
				for r := range n {
					// Each sub-transport serves the ranks routed to it.
					route := make([]int, n)
					for p := range n {
						if host(p) != host(r) {
							route[p] = 1
						}
					}
					c, err := comm.NewComposite(r, n, []comm.Transport{us[r], ts[r]}, route)
					if err != nil {
						t.Fatal(err)
					}
					job.Transports = append(job.Transports, c)
				}
				job.Crash = func(r int) { comm.CrashUnix(us[r]); comm.CrashNATS(ts[r]) }
				return job
			})
		})
	}
}

// TestCompositeOfInmemConformance runs the suite over composites of two
// in-memory networks, the twin of the Unix + NATS composite.
func TestCompositeOfInmemConformance(t *testing.T) {
	host := placements["split"]
	commtest.Run(t, func(t *testing.T, n int) commtest.Job {
		nets := []*comm.Network{comm.NewNetwork(n), comm.NewNetwork(n)}
		job := commtest.Job{
			Crash:      func(r int) { nets[0].Crash(r); nets[1].Crash(r) },
			EagerLimit: func(int, int) int { return 0 }, // the in-memory network states none
		}
		for r := range n {
			route := make([]int, n)
			for p := range n {
				if host(p) != host(r) {
					route[p] = 1
				}
			}
			c, err := comm.NewComposite(r, n, []comm.Transport{nets[0].Transport(r), nets[1].Transport(r)}, route)
			if err != nil {
				t.Fatal(err)
			}
			job.Transports = append(job.Transports, c)
		}
		return job
	})
}

// TestSubTransportsServeTheirPeersOnly: Unix and NATS transports given a
// peer set refuse frames to other ranks, and a composite of them reaches
// every rank, each through its own transport, and reports each peer gone
// once.
func TestSubTransportsServeTheirPeersOnly(t *testing.T) {
	const n = 4
	host := placements["split"]
	srv := startNATSServer(t, 64<<10)
	us, _ := unixJob(t, n, func(c *comm.UnixConfig) { c.Peers, _ = peersOf(c.Rank, n, host) })
	ts := natsJob(t, srv.URL(srv.admin), "peers", "s", n, func(c *comm.NATSConfig) { _, c.Peers = peersOf(c.Rank, n, host) })
	cs := make([]comm.Transport, n)
	recs := make([]*commtest.Recorder, n)
	for r := range n {
		route := make([]int, n)
		for p := range n {
			if host(p) != host(r) {
				route[p] = 1
			}
		}
		c, err := comm.NewComposite(r, n, []comm.Transport{us[r], ts[r]}, route)
		if err != nil {
			t.Fatal(err)
		}
		cs[r], recs[r] = c, commtest.NewRecorder()
		if err := c.Start(recs[r]); err != nil {
			t.Fatal(err)
		}
	}
	ctx := testCtx(t)
	if err := us[0].Send(ctx, 1, comm.Header{Kind: kindData}, nil); !errors.Is(err, comm.ErrBadRank) {
		t.Errorf("unix send to a rank outside its peers: %v, want ErrBadRank", err)
	}
	if err := ts[0].Send(ctx, 2, comm.Header{Kind: kindData}, nil); !errors.Is(err, comm.ErrBadRank) {
		t.Errorf("nats send to a rank outside its peers: %v, want ErrBadRank", err)
	}
	for a := range n {
		for b := range n {
			if a != b {
				if err := cs[a].Send(ctx, b, comm.Header{Kind: kindData, Tag: int32(a)}, []byte{byte(a)}); err != nil {
					t.Fatalf("%d to %d: %v", a, b, err)
				}
			}
		}
	}
	for r := range n {
		recs[r].WaitFor(t, "a frame from every peer", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) == n-1 })
	}
	for r := 1; r < n; r++ {
		if err := cs[r].Close(); err != nil {
			t.Errorf("rank %d Close: %v", r, err)
		}
	}
	recs[0].WaitFor(t, "every peer gone", func(_ []comm.Frame, gone map[int]error) bool { return len(gone) == n-1 })
	for p := 1; p < n; p++ {
		if err, _ := recs[0].Gone(p); !errors.Is(err, comm.ErrPeerFinished) {
			t.Errorf("rank %d gone with %v, want ErrPeerFinished", p, err)
		}
	}
	if dups := recs[0].Duplicates(); len(dups) > 0 {
		t.Errorf("PeerGone reported more than once for ranks %v", dups)
	}
	cs[0].Close()
}

// TestCompositePollsOnlyWhatCanPoll: a composite is a Poller only when a
// sub-transport is one, so that the layer above never spins on a Poll that
// has nothing to poll.
func TestCompositePollsOnlyWhatCanPoll(t *testing.T) {
	nets := []*comm.Network{comm.NewNetwork(2), comm.NewNetwork(2)}
	c, err := comm.NewComposite(0, 2, []comm.Transport{nets[0].Transport(0), nets[1].Transport(0)}, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(comm.Poller); ok {
		t.Error("a composite of transports that cannot poll is a Poller")
	}
	us, _ := unixJob(t, 2, nil)
	// Rank 1 answers: the composite's Close says goodbye to it, and a
	// peer that never started would hold that up for the dial timeout
	// (30 s).
	if err := us[1].Start(commtest.NewRecorder()); err != nil {
		t.Fatal(err)
	}
	c, err = comm.NewComposite(0, 2, []comm.Transport{nets[0].Transport(0), us[0]}, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(comm.Poller); !ok {
		t.Error("a composite with a Unix transport is not a Poller")
	}
	c.Close()
	us[1].Close()
}

// spinCounter is an in-memory transport that polls and counts the
// SpinStart and SpinEnd calls it gets.
type spinCounter struct {
	comm.Transport
	starts, ends int
}

func (s *spinCounter) Poll() bool { return false }
func (s *spinCounter) SpinStart() { s.starts++ }
func (s *spinCounter) SpinEnd()   { s.ends++ }

// TestCompositeForwardsSpins: a composite passes SpinStart and SpinEnd to
// every sub-transport that is a Spinner (the Unix transport's rings need
// them to skip wake-ups while the layer above polls), and only to those.
func TestCompositeForwardsSpins(t *testing.T) {
	nets := []*comm.Network{comm.NewNetwork(2), comm.NewNetwork(2)}
	spinning := &spinCounter{Transport: nets[0].Transport(0)}
	c, err := comm.NewComposite(0, 2, []comm.Transport{spinning, nets[1].Transport(0)}, []int{0, 0})
	if err != nil {
		t.Fatal(err)
	}
	sp, ok := c.(comm.Spinner)
	if !ok {
		t.Fatal("a composite with a Spinner sub-transport is not a Spinner")
	}
	sp.SpinStart()
	sp.SpinStart()
	sp.SpinEnd()
	if spinning.starts != 2 || spinning.ends != 1 {
		t.Errorf("sub-transport got %d SpinStart and %d SpinEnd, want 2 and 1", spinning.starts, spinning.ends)
	}
}

// TestNewCompositeRefusesBadTables: a route of the wrong length, to a
// transport that does not exist, or a sub-transport of another rank is
// refused with a message that says so.
func TestNewCompositeRefusesBadTables(t *testing.T) {
	net := comm.NewNetwork(3)
	for _, tc := range []struct {
		name  string
		rank  int
		subs  []comm.Transport
		route []int
		says  string
	}{
		{"short route", 0, []comm.Transport{net.Transport(0)}, []int{0, 0}, "a route for 2 ranks in a job of 3"},
		{"no such transport", 0, []comm.Transport{net.Transport(0)}, []int{0, 0, 1}, "rank 2 routed to transport 1 of 1"},
		{"another rank's transport", 1, []comm.Transport{net.Transport(0)}, []int{0, 0, 0}, "sub-transport 0 is not rank 1 of 3"},
		{"rank out of range", 3, nil, []int{0, 0, 0}, "rank 3 of 3"},
	} {
		_, err := comm.NewComposite(tc.rank, 3, tc.subs, tc.route)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.says)
		}
	}
}
