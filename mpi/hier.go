package mpi

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/gorun-mpi/gorun/collectives"
	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// hierarchy is how a communicator's ranks sit on the hosts of a job placed
// over several (GORUN_PLACEMENT): the collectives that pay for it run in
// phases, among the ranks of each host (the local transport; on the world
// communicator, the host's shared memory: hier_shm.go), among one
// representative per host (NATS), then among each host's ranks again, so a
// vector crosses between hosts once per host instead of once per rank.
type hierarchy struct {
	hosts  [][]int // the communicator's ranks on each host, ascending; hosts ordered by their lowest rank
	host   []int   // host index (into hosts) of each communicator rank
	blocks bool    // every host's ranks are consecutive: host order is rank order
}

// hierState caches a communicator's hierarchy (computed once, without any
// message: every rank derives it from the world's placement).
type hierState struct {
	once sync.Once
	h    *hierarchy
}

// withPlacement gives a world built over a transport (WithTransport) the
// host index of each world rank, as gorun gives a job in GORUN_PLACEMENT
// (tests only: the transport does not tell).
func withPlacement(hosts []int) Option {
	return func(c *config) { c.placement = slices.Clone(hosts) }
}

// hierarchy returns c's hierarchy, or nil when the hierarchical
// collectives would not pay: c's ranks on one host, or one rank per host.
func (c *Comm) hierarchy() *hierarchy {
	s := &c.shared.hier
	s.once.Do(func() { s.h = newHierarchy(c.shared.world.placement, c.group) })
	return s.h
}

// newHierarchy places group (world ranks) on the hosts of placement (host
// index per world rank); nil when it spans one host or no host holds two
// of its ranks.
func newHierarchy(placement, group []int) *hierarchy {
	if len(placement) == 0 || !jobenv.SpansHosts(placement) {
		return nil
	}
	index := map[int]int{} // placement host -> index into hosts
	h := &hierarchy{host: make([]int, len(group)), blocks: true}
	for r, w := range group {
		if w < 0 || w >= len(placement) {
			return nil
		}
		i, ok := index[placement[w]]
		if !ok {
			i = len(h.hosts)
			index[placement[w]] = i
			h.hosts = append(h.hosts, nil)
		} else if h.host[r-1] != i {
			h.blocks = false // a host's ranks resume after another host's
		}
		h.hosts[i] = append(h.hosts[i], r)
		h.host[r] = i
	}
	if len(h.hosts) < 2 || len(h.hosts) == len(group) {
		return nil
	}
	return h
}

// hierFor returns conn's hierarchy when a call with op of that
// commutativity may run in phases: a non-commutative operator needs hosts
// whose ranks are consecutive, so that combining per host, then across
// hosts in host order, keeps rank order. A call with a nil operator runs
// flat (hasOp false), where every rank learns of it and the communicator
// stays usable.
func hierFor(conn collectives.Conn, commutative, hasOp bool) (*collConn, *hierarchy) {
	k, ok := conn.(*collConn)
	if !ok || !hasOp {
		return nil, nil
	}
	h := k.c.hierarchy()
	if h == nil || (!commutative && !h.blocks) {
		return nil, nil
	}
	return k, h
}

// The phases of a hierarchical call use disjoint step tags.
const (
	phaseTags   = collectives.MaxTag / 4
	phaseUp     = 0 // among each host's ranks, towards the representative
	phaseAcross = 1 // among the representatives
	phaseDown   = 2 // among each host's ranks, from the representative
)

// reps returns the representative of each host: root on root's host
// (root < 0: none), the host's lowest rank elsewhere.
func (h *hierarchy) reps(root int) []int {
	out := make([]int, len(h.hosts))
	for i, ranks := range h.hosts {
		out[i] = ranks[0]
	}
	if root >= 0 {
		out[h.host[root]] = root
	}
	return out
}

// local is the sub-group of this rank's host in phase.
func (h *hierarchy) local(k *collConn, phase int) *subConn {
	return newSubConn(k, h.hosts[h.host[k.c.rank]], phase)
}

// across is the sub-group of reps in phase, or nil when this rank is
// not one of them.
func (h *hierarchy) across(k *collConn, reps []int) *subConn {
	if !slices.Contains(reps, k.c.rank) {
		return nil
	}
	return newSubConn(k, reps, phaseAcross)
}

// subConn is a sub-group of one collective call's ranks, in one phase: a
// collectives.Conn whose messages go through the call's own (so they carry
// its signature, and mismatch detection works as for a flat call), with
// the phase's step tags.
type subConn struct {
	k       *collConn
	members []int // communicator ranks, in sub-group rank order
	me      int
	base    int
}

func newSubConn(k *collConn, members []int, phase int) *subConn {
	return &subConn{k: k, members: members, me: slices.Index(members, k.c.rank), base: phase * phaseTags}
}

func (s *subConn) Rank() int { return s.me }
func (s *subConn) Size() int { return len(s.members) }

// peer maps a sub-group rank and step tag to the call's.
func (s *subConn) peer(r, tag int) (int, int, error) {
	if r < 0 || r >= len(s.members) || tag < 0 || tag >= phaseTags {
		return 0, 0, fmt.Errorf("%w: hierarchical step to %d of %d with tag %d", collectives.ErrProtocol, r, len(s.members), tag)
	}
	return s.members[r], s.base + tag, nil
}

func (s *subConn) Send(payload []byte, dest, tag int) error {
	d, t, err := s.peer(dest, tag)
	if err != nil {
		return err
	}
	return s.k.Send(payload, d, t)
}

func (s *subConn) Recv(source, tag int) ([]byte, error) {
	src, t, err := s.peer(source, tag)
	if err != nil {
		return nil, err
	}
	return s.k.Recv(src, t)
}

func (s *subConn) Sendrecv(payload []byte, dest, sendTag int, source, recvTag int) ([]byte, error) {
	d, st, err := s.peer(dest, sendTag)
	if err != nil {
		return nil, err
	}
	src, rt, err := s.peer(source, recvTag)
	if err != nil {
		return nil, err
	}
	return s.k.Sendrecv(payload, d, st, src, rt)
}

// SendrecvInto forwards collectives.BufferedConn.
func (s *subConn) SendrecvInto(payload []byte, dest, sendTag int, buf []byte, source, recvTag int) ([]byte, error) {
	d, st, err := s.peer(dest, sendTag)
	if err != nil {
		return nil, err
	}
	src, rt, err := s.peer(source, recvTag)
	if err != nil {
		return nil, err
	}
	return s.k.SendrecvInto(payload, d, st, buf, src, rt)
}

// hierCall begins a hierarchical call with signature sig and runs phases;
// a phase's failure that is not already a broken call breaks the
// communicator's collectives (as a mismatch does), so that the ranks
// waiting in other phases, which would never hear from this one, end too.
func hierCall[R any](k *collConn, sig collectives.Signature, phases func() (R, error)) (R, error) {
	var zero R
	if _, err := k.BeginCall(sig); err != nil {
		return zero, err
	}
	out, err := phases()
	if err != nil {
		var agreed agreedErr
		if errors.As(err, &agreed) {
			return zero, agreed.error
		}
		if k.c.collBroken() == nil {
			k.c.breakColl(mismatchCause(err))
		}
		return zero, err
	}
	return out, nil
}
