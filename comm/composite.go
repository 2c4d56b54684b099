package comm

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Composite is a Transport made of transports: each peer is served by one
// of them, chosen by a placement table given at construction, so that a
// job can reach same-host peers through Unix sockets and the others
// through NATS. Every sub-transport has this rank and the job's size and
// serves the ranks routed to it (see UnixConfig.Peers, NATSConfig.Peers).
//
// Abilities pass through by destination: Send, SendParts and TrySend go to
// the destination's transport (TrySend reports false, nothing sent, when
// that transport cannot try; SendParts joins the parts when it cannot
// send them apart); the composite is a Poller only when one of its
// sub-transports is, and Poll polls every one that can; a peer's memory
// is readable only through a transport that can read it; EagerLimit is the
// destination's transport's preference (0: none). Frames are delivered
// only from the transport a source is routed to, PeerGone is reported once
// per rank, by that transport, and Close says goodbye on every one.
type Composite struct {
	rank, size int
	subs       []Transport
	route      []int // per rank: index in subs; -1 for our own rank

	mu      sync.Mutex
	gone    []bool
	started bool
}

// NewComposite returns the composite of subs for rank of a job of size:
// route[r] is the index in subs of the transport that serves rank r
// (route[rank] is ignored). Each sub-transport must say it is rank of size.
// The composite owns subs: its Close closes them. The transport returned is
// a *Composite, or, when a sub-transport can poll, a Poller wrapping one
// (so that a caller never spins on a Poll that has nothing to poll).
func NewComposite(rank, size int, subs []Transport, route []int) (Transport, error) {
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("comm: composite transport: rank %d of %d: %w", rank, size, ErrBadRank)
	}
	if len(route) != size {
		return nil, fmt.Errorf("comm: composite transport: a route for %d ranks in a job of %d", len(route), size)
	}
	for i, s := range subs {
		if s == nil || s.Rank() != rank || s.Size() != size {
			return nil, fmt.Errorf("comm: composite transport of rank %d of %d: sub-transport %d is not rank %d of %d", rank, size, i, rank, size)
		}
	}
	c := &Composite{rank: rank, size: size, subs: subs, route: make([]int, size), gone: make([]bool, size)}
	for r, i := range route {
		if r == rank {
			c.route[r] = -1
			continue
		}
		if i < 0 || i >= len(subs) {
			return nil, fmt.Errorf("comm: composite transport: rank %d routed to transport %d of %d", r, i, len(subs))
		}
		c.route[r] = i
	}
	for _, s := range subs {
		if _, ok := s.(Poller); ok {
			return pollingComposite{c}, nil
		}
	}
	return c, nil
}

// Rank returns this transport's rank.
func (c *Composite) Rank() int { return c.rank }

// Size returns the number of ranks in the job.
func (c *Composite) Size() int { return c.size }

// Start starts every sub-transport, each delivering the frames of the ranks
// routed to it to h. If one fails to start, every sub-transport is closed.
func (c *Composite) Start(h Handler) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return fmt.Errorf("comm: composite rank %d: Start called twice", c.rank)
	}
	c.started = true
	c.mu.Unlock()
	for i, s := range c.subs {
		sh := subHandler{c: c, sub: i, h: h}
		var handler Handler = sh
		if bp, ok := h.(BufferProvider); ok {
			handler = subProvider{sh, bp}
		}
		if err := s.Start(handler); err != nil {
			c.Close()
			return fmt.Errorf("comm: composite rank %d: sub-transport %d: %w", c.rank, i, err)
		}
	}
	return nil
}

// sub returns the transport that serves dest, or an ErrBadRank error.
func (c *Composite) sub(dest int) (Transport, error) {
	if dest < 0 || dest >= c.size || dest == c.rank {
		return nil, fmt.Errorf("comm: composite rank %d: send to %d of %d: %w", c.rank, dest, c.size, ErrBadRank)
	}
	return c.subs[c.route[dest]], nil
}

// Send sends through dest's transport.
func (c *Composite) Send(ctx context.Context, dest int, h Header, payload []byte) error {
	s, err := c.sub(dest)
	if err != nil {
		return err
	}
	return s.Send(ctx, dest, h, payload)
}

// SendParts sends head and body through dest's transport, joined first if
// it cannot send them apart (PartsSender).
func (c *Composite) SendParts(ctx context.Context, dest int, h Header, head, body []byte) error {
	s, err := c.sub(dest)
	if err != nil {
		return err
	}
	if ps, ok := s.(PartsSender); ok {
		return ps.SendParts(ctx, dest, h, head, body)
	}
	return s.Send(ctx, dest, h, append(append(make([]byte, 0, len(head)+len(body)), head...), body...))
}

// TrySend tries through dest's transport; false, nothing sent, when that
// transport cannot try (TrySender).
func (c *Composite) TrySend(dest int, h Header, payload []byte) (bool, error) {
	s, err := c.sub(dest)
	if err != nil {
		return false, nil
	}
	if ts, ok := s.(TrySender); ok {
		return ts.TrySend(dest, h, payload)
	}
	return false, nil
}

// pollingComposite is a Composite with a sub-transport that can poll.
type pollingComposite struct{ *Composite }

// Poll polls every sub-transport that can (Poller).
func (c pollingComposite) Poll() bool {
	delivered := false
	for _, s := range c.subs {
		if p, ok := s.(Poller); ok && p.Poll() {
			delivered = true
		}
	}
	return delivered
}

// SpinStart tells every sub-transport that is a Spinner that the layer
// above starts polling, so their peers skip the wake-ups meanwhile.
func (c pollingComposite) SpinStart() {
	for _, s := range c.subs {
		if sp, ok := s.(Spinner); ok {
			sp.SpinStart()
		}
	}
}

// SpinEnd tells every sub-transport that is a Spinner that polling
// stopped.
func (c pollingComposite) SpinEnd() {
	for _, s := range c.subs {
		if sp, ok := s.(Spinner); ok {
			sp.SpinEnd()
		}
	}
}

// SpinLinger tells every sub-transport that is a Spinner that polling
// stopped for now (Lingerer), as SpinEnd for those that cannot linger.
func (c pollingComposite) SpinLinger() {
	for _, s := range c.subs {
		switch sp := s.(type) {
		case Lingerer:
			sp.SpinLinger()
		case Spinner:
			sp.SpinEnd()
		}
	}
}

// reader returns rank's transport as a PeerMemoryReader, if it is one.
func (c *Composite) reader(rank int) (PeerMemoryReader, bool) {
	if rank < 0 || rank >= c.size || rank == c.rank {
		return nil, false
	}
	r, ok := c.subs[c.route[rank]].(PeerMemoryReader)
	return r, ok
}

// CanReadPeerMemory reports whether rank's transport can read its memory
// (PeerMemoryReader).
func (c *Composite) CanReadPeerMemory(rank int) bool {
	r, ok := c.reader(rank)
	return ok && r.CanReadPeerMemory(rank)
}

// ReadPeerMemory reads rank's memory through rank's transport.
func (c *Composite) ReadPeerMemory(rank int, addr uint64, dst []byte) error {
	r, ok := c.reader(rank)
	if !ok {
		return fmt.Errorf("comm: composite rank %d: rank %d's transport cannot read its memory", c.rank, rank)
	}
	return r.ReadPeerMemory(rank, addr, dst)
}

// EagerLimit returns dest's transport's preference, or 0 (EagerLimiter).
func (c *Composite) EagerLimit(dest int) int {
	if dest < 0 || dest >= c.size || dest == c.rank {
		return 0
	}
	if el, ok := c.subs[c.route[dest]].(EagerLimiter); ok {
		return el.EagerLimit(dest)
	}
	return 0
}

// PushLimit returns dest's transport's push limit, or 0 (PushLimiter).
func (c *Composite) PushLimit(dest int) int {
	if dest < 0 || dest >= c.size || dest == c.rank {
		return 0
	}
	if pl, ok := c.subs[c.route[dest]].(PushLimiter); ok {
		return pl.PushLimit(dest)
	}
	return 0
}

// Close closes every sub-transport at once (each says goodbye to its
// peers) and returns their errors joined.
func (c *Composite) Close() error {
	errs := make([]error, len(c.subs))
	var wg sync.WaitGroup
	for i, s := range c.subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Close(); err != nil {
				errs[i] = fmt.Errorf("comm: composite rank %d: sub-transport %d: %w", c.rank, i, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// subHandler is the Handler a sub-transport delivers to: it passes on only
// what concerns the ranks routed to that transport, and each PeerGone once.
type subHandler struct {
	c   *Composite
	sub int
	h   Handler
}

// mine reports whether rank is routed to this handler's transport.
func (s subHandler) mine(rank int) bool {
	return rank >= 0 && rank < s.c.size && s.c.route[rank] == s.sub
}

func (s subHandler) Deliver(f Frame) {
	if s.mine(int(f.Source)) {
		s.h.Deliver(f)
	}
}

func (s subHandler) PeerGone(rank int, err error) {
	if !s.mine(rank) {
		return
	}
	s.c.mu.Lock()
	already := s.c.gone[rank]
	s.c.gone[rank] = true
	s.c.mu.Unlock()
	if !already {
		s.h.PeerGone(rank, err)
	}
}

// subProvider is a subHandler for a Handler that provides buffers.
type subProvider struct {
	subHandler
	bp BufferProvider
}

func (s subProvider) BufferFor(h Header, length int) []byte {
	if !s.mine(int(h.Source)) {
		return nil
	}
	return s.bp.BufferFor(h, length)
}

// SplitBuffers passes the question on when the Handler is a
// SplitBufferProvider (see there); else the transport goes BufferFor's way.
func (s subProvider) SplitBuffers(h Header, length int, first []byte) (head, body []byte) {
	sp, ok := s.bp.(SplitBufferProvider)
	if !ok || !s.mine(int(h.Source)) {
		return nil, nil
	}
	return sp.SplitBuffers(h, length, first)
}
