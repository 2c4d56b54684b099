package comm

import (
	"context"
	"fmt"
	"sync"
)

// Network is a set of in-memory transports, one per rank, that deliver to
// each other through queues in this process. It exists for fast unit tests of
// the layers above the transport; it keeps the transport contract (order per
// source, PeerGone after the last frame, the same sentinel errors) and can
// simulate a crashed rank with Crash. Its transports implement TrySender
// (an in-memory send never waits) and ask a BufferProvider for the memory of
// large payloads as every transport does.
type Network struct {
	nodes []*inmemNode
}

// NewNetwork returns a network of size in-memory transports.
func NewNetwork(size int) *Network {
	n := &Network{nodes: make([]*inmemNode, size)}
	for r := range n.nodes {
		node := &inmemNode{net: n, rank: r, size: size, inbox: newQueue()}
		n.nodes[r] = node
	}
	return n
}

// Transport returns rank's transport.
func (n *Network) Transport(rank int) Transport { return n.nodes[rank] }

// Crash makes rank vanish as a killed process would: its peers get PeerGone
// with ErrPeerLost after the frames already sent, and nothing it sends later
// arrives.
func (n *Network) Crash(rank int) {
	node := n.nodes[rank]
	node.mu.Lock()
	already := node.closed
	node.closed, node.crashed = true, true
	node.mu.Unlock()
	if already {
		return
	}
	for _, peer := range n.nodes {
		if peer.rank != rank {
			peer.inbox.push(inmemItem{gone: true, from: rank,
				err: fmt.Errorf("rank %d crashed: %w", rank, ErrPeerLost)})
		}
	}
	node.inbox.close()
}

type inmemItem struct {
	frame Frame
	gone  bool
	from  int
	err   error
}

type inmemNode struct {
	net   *Network
	rank  int
	size  int
	inbox *queue

	mu      sync.Mutex
	closed  bool
	crashed bool // closed by Network.Crash, not by Close
	started bool
	done    chan struct{}
}

func (t *inmemNode) Rank() int { return t.rank }
func (t *inmemNode) Size() int { return t.size }

func (t *inmemNode) Start(h Handler) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return fmt.Errorf("comm: inmem rank %d: Start called twice", t.rank)
	}
	t.started = true
	t.done = make(chan struct{})
	go t.deliver(h)
	return nil
}

func (t *inmemNode) deliver(h Handler) {
	defer close(t.done)
	gone := make([]bool, t.size)
	for {
		item, ok := t.inbox.pop()
		if !ok {
			return
		}
		if item.gone {
			if !gone[item.from] {
				gone[item.from] = true
				h.PeerGone(item.from, item.err)
			}
			continue
		}
		if gone[item.frame.Source] {
			continue
		}
		f := item.frame
		if bp, ok := h.(BufferProvider); ok && len(f.Payload) >= BufferThreshold {
			if b := bp.BufferFor(f.Header, len(f.Payload)); len(b) == len(f.Payload) {
				copy(b, f.Payload)
				f.Payload = b
			}
		}
		h.Deliver(f)
	}
}

func (t *inmemNode) Send(ctx context.Context, dest int, h Header, payload []byte) error {
	if dest < 0 || dest >= t.size || dest == t.rank {
		return fmt.Errorf("comm: inmem rank %d: send to %d of %d: %w", t.rank, dest, t.size, ErrBadRank)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return fmt.Errorf("comm: inmem rank %d: %w", t.rank, ErrClosed)
	}
	peer := t.net.nodes[dest]
	peer.mu.Lock()
	peerClosed, peerCrashed := peer.closed, peer.crashed
	peer.mu.Unlock()
	if peerCrashed {
		return fmt.Errorf("comm: inmem rank %d: send to %d: %w", t.rank, dest, ErrPeerLost)
	}
	if peerClosed { // as the real transports say of a peer that closed
		return fmt.Errorf("comm: inmem rank %d: send to %d: %w", t.rank, dest, ErrPeerFinished)
	}
	if err := checkKind(h.Kind); err != nil {
		return fmt.Errorf("comm: inmem rank %d: send to %d: %w", t.rank, dest, err)
	}
	h.Source = int32(t.rank)
	peer.inbox.push(inmemItem{frame: Frame{Header: h, Payload: append([]byte(nil), payload...)}})
	return nil
}

// TrySend sends at once: an in-memory send never waits (TrySender).
func (t *inmemNode) TrySend(dest int, h Header, payload []byte) (bool, error) {
	if err := t.Send(context.Background(), dest, h, payload); err != nil {
		return false, err
	}
	return true, nil
}

func (t *inmemNode) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	started := t.started
	t.mu.Unlock()
	for _, peer := range t.net.nodes {
		if peer.rank != t.rank {
			peer.inbox.push(inmemItem{gone: true, from: t.rank,
				err: fmt.Errorf("rank %d closed its transport: %w", t.rank, ErrPeerFinished)})
		}
	}
	t.inbox.close()
	if started {
		<-t.done
	}
	return nil
}

// queue is an unbounded FIFO with a blocking pop.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []inmemItem
	closed bool
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) push(it inmemItem) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, it)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

func (q *queue) pop() (inmemItem, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.items) == 0 {
		return inmemItem{}, false
	}
	it := q.items[0]
	q.items[0] = inmemItem{}
	q.items = q.items[1:]
	return it, true
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}
