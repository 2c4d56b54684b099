package mpi

import (
	"context"
	"errors"
	"time"

	"github.com/gorun-mpi/gorun/collectives"
)

// Collective mismatches (see ErrCollectiveMismatch). Every collective
// message carries its call's signature (collectives.Signature: the
// collective, root, element type, length where it must agree, call
// number) as its descriptor, 24 bytes sent with the payload. A receive
// compares it with its own call's (collConn.finishRecv). That alone would
// leave a rank waiting for a message its peer, in another collective, will
// never send, so the matcher also watches every collective context on
// which this rank has begun a call (collWatch): a message of the current
// call with another signature, or of a finished call with another
// signature than this rank's, is evidence of a mismatch even when no
// receive matches it. Evidence, or an alarm from another rank, breaks the
// communicator's collectives on this rank: the collective receive posted
// on it, if any, wakes with the mismatch, and every later collective call
// fails at once. The rank that found a mismatch itself sends an alarm
// (a small message with the error's text) to every other rank of the
// communicator, so that none keeps waiting.

// A rank that waits long in a collective receive (collPingAfter, at most
// twice that) sends the peer it waits for a ping: a message without data
// carrying its call's signature, on the step tag pingStep of the call,
// which no receive takes. A peer in another call finds the mismatch in it
// (ranks that all wait for each other, say rank 0 in Reduce and rank 1 in
// Allreduce, would otherwise wait for ever); a peer in the same call, or
// not yet in it, drops it.
const (
	collPingAfter = 100 * time.Millisecond
	pingStep      = collectives.MaxTag - 1
)

// alarmTag is the wire tag of a mismatch alarm on a collective context;
// the tags of collective calls are never negative.
const alarmTag = -2

// Wire sequence numbers: the 19 bits of the call number in a collective
// tag (collConn.wireTag).
const (
	wireSeqShift = 12
	wireSeqMask  = 1<<19 - 1
	watchHistory = 64 // calls of its own a watch remembers
)

// wireSeq is the call number a collective wire tag carries.
func wireSeq(tag int) uint32 { return uint32(tag>>wireSeqShift) & wireSeqMask }

// collWatch is the matcher's view of one collective context on this rank.
type collWatch struct {
	rank  int   // this rank in the communicator
	local []int // world rank -> communicator rank
	seq   uint32
	sig   collectives.Signature // the call begun last (wire sequence seq)
	// history holds this rank's earlier calls by wire sequence, to judge
	// messages that arrive after their call ended here.
	history [watchHistory]collectives.Signature
	// early holds messages of calls this rank had not begun when they
	// arrived; BeginCall checks them.
	early   []*message
	waiting *recvOp // the collective receive posted at the last watchdog tick
	pinged  *recvOp // the one whose peer was pinged
	alarm   error   // an alarm that came before the first call, for begin
	broken  error   // the mismatch, once known
	alarmed bool    // this rank has sent its alarm
}

// isCollCtx reports whether ctx may carry collectives (communicators use
// even contexts for point to point, the next odd one for collectives).
func isCollCtx(ctx uint32) bool { return ctx&1 == 1 }

// messageSig is the signature a collective message carries.
func messageSig(msg *message) (collectives.Signature, bool) {
	if msg.rndv {
		return collectives.ParseSignature(msg.head)
	}
	return collectives.ParseSignature(msg.body)
}

// judge returns the mismatch msg proves, or nil; a message of a call this
// rank has not begun goes to early.
func (w *collWatch) judge(msg *message) error {
	theirs, ok := messageSig(msg)
	if !ok {
		return nil
	}
	mseq := wireSeq(msg.env.tag)
	mine := w.sig
	switch d := (mseq - w.seq) & wireSeqMask; {
	case d == 0:
	case d < wireSeqMask/2:
		w.early = append(w.early, msg)
		return nil
	default:
		mine = w.history[mseq%watchHistory]
		if mine.Kind == 0 || mine.Seq&wireSeqMask != mseq {
			return nil // too old to judge
		}
	}
	if mine.Kind == 0 || mine.Matches(theirs) {
		return nil
	}
	return collectives.Mismatch(w.rank, mine, w.local[msg.env.source], theirs)
}

// collArrive looks at a message no receive matched on a watched
// collective context. It returns the receive that is to take it: the
// collective receive posted on the context when msg is evidence of a
// mismatch or an alarm (that receive then fails), or a drain, not posted
// anywhere, for a message that nobody will receive any more (so that its
// sender, perhaps waiting for a clear-to-send, goes on). nil: queue it.
func (m *matcher) collArrive(w *collWatch, msg *message) *recvOp {
	switch {
	case msg.env.tag == alarmTag:
		if w.broken == nil {
			w.broken = alarmErr(msg.body)
		}
	case w.broken != nil:
		return drainOp(msg)
	default:
		err := w.judge(msg)
		if err == nil {
			if msg.env.tag&(collectives.MaxTag-1) == pingStep {
				return drainOp(msg)
			}
			return nil
		}
		w.broken = err
	}
	for i, r := range m.posted {
		if r.ctx == msg.env.ctx {
			m.posted = removeAt(m.posted, i)
			return r
		}
	}
	return drainOp(msg)
}

// drainOp is a receive, posted nowhere, that takes msg and drops it.
func drainOp(msg *message) *recvOp {
	r := &recvOp{ctx: msg.env.ctx, source: msg.env.source, tag: msg.env.tag}
	r.init()
	return r
}

// brokenMessage is what a receive posted on a broken collective context
// takes at once: an alarm that fails it.
func (m *matcher) brokenMessage(r *recvOp) *message {
	if !isCollCtx(r.ctx) || len(m.colls) == 0 {
		return nil
	}
	if w := m.colls[r.ctx]; w != nil && w.broken != nil {
		return &message{env: envelope{ctx: r.ctx, source: r.source, tag: alarmTag}}
	}
	return nil
}

// watch returns the watch of collective context ctx, or nil.
func (m *matcher) watch(ctx uint32) *collWatch {
	if !isCollCtx(ctx) || len(m.colls) == 0 {
		return nil
	}
	return m.colls[ctx]
}

// newWatch makes the watch of collective context ctx, for this rank
// (rank, and local, the map from world ranks) of its communicator.
func (m *matcher) newWatch(ctx uint32, rank int, local []int) *collWatch {
	if w := m.colls[ctx]; w != nil {
		return w
	}
	if m.colls == nil {
		m.colls = map[uint32]*collWatch{}
	}
	w := &collWatch{rank: rank, local: local}
	m.colls[ctx] = w
	// Messages that came before this rank's first call: judge them now.
	for _, sq := range m.unexpected.queues {
		for _, msg := range sq.msgs[sq.head:] {
			switch {
			case msg.env.ctx != ctx:
			case msg.env.tag == alarmTag:
				if w.alarm == nil {
					w.alarm = alarmErr(msg.body)
				}
			default:
				w.early = append(w.early, msg)
			}
		}
	}
	return w
}

// begin records that this rank begins call sig (wire sequence seq), and
// returns the mismatch already known, or found among the messages of this
// call that came early.
func (w *collWatch) begin(seq uint32, sig collectives.Signature) error {
	if w.sig.Kind != 0 {
		w.history[w.seq%watchHistory] = w.sig
	}
	w.seq, w.sig = seq&wireSeqMask, sig
	if w.broken != nil {
		return w.broken
	}
	early := w.early
	w.early = nil
	for i, msg := range early {
		if err := w.judge(msg); err != nil && w.broken == nil {
			w.broken = err
		}
		early[i] = nil
	}
	if w.broken == nil && w.alarm != nil {
		// What this rank found itself, above, names its own call.
		w.broken = w.alarm
	}
	return w.broken
}

// takeColl removes and returns every queued message of collective context
// ctx (once it is broken: nobody will receive them).
func (m *matcher) takeColl(ctx uint32) []*message {
	var taken []*message
	for _, sq := range m.unexpected.queues {
		for {
			i := -1
			for j := sq.head; j < len(sq.msgs); j++ {
				if sq.msgs[j].env.ctx == ctx {
					i = j
					break
				}
			}
			if i < 0 {
				break
			}
			taken = append(taken, m.unexpected.take(sq, i))
		}
	}
	return taken
}

// breakColl records err, a collective mismatch of c, as c's collectives'
// fate on this rank, drops the messages queued for them, and sends the
// other ranks an alarm, once, even when this rank learned of the mismatch
// from another's alarm: a rank's alarm to a peer goes before its goodbye on
// the same path, so a peer still waiting for this rank learns of the
// mismatch before it learns that this rank finished (the alarm of the rank
// that found it may come later, by another path).
func (c *Comm) breakColl(err error) {
	ctx := c.ctx + 1
	e := c.e
	e.mu.Lock()
	w := e.match.watch(ctx)
	if w == nil {
		e.mu.Unlock()
		return
	}
	if w.broken == nil {
		w.broken = err
	}
	alarm := !w.alarmed
	w.alarmed = true
	text := w.broken
	taken := e.match.takeColl(ctx)
	drains := make([]*recvOp, len(taken))
	for i, msg := range taken {
		drains[i] = drainOp(msg)
		drains[i].msg = msg
		if msg.rndv {
			e.recvs[rndvKey{msg.env.source, msg.id}] = drains[i]
		}
	}
	e.mu.Unlock()
	for i, msg := range taken {
		e.matched(drains[i], msg)
	}
	if !alarm {
		return
	}
	body := alarmBody(text)
	for q, world := range c.group {
		if q != c.rank {
			_ = e.send(context.Background(), ctx, world, alarmTag, nil, body, false, nil) // a rank gone needs no alarm
		}
	}
}

// collBroken is the mismatch c's collectives met on this rank, or nil.
func (c *Comm) collBroken() error {
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	if w := c.e.match.watch(c.ctx + 1); w != nil {
		return w.broken
	}
	return nil
}

// alarmBody encodes a mismatch for the other ranks: a flag byte (1: the
// lengths differ), then the error's text.
func alarmBody(err error) []byte {
	flag := byte(0)
	if errors.Is(err, collectives.ErrLengthMismatch) {
		flag = 1
	}
	return append([]byte{flag}, err.Error()...)
}

// alarmErr decodes an alarm's body.
func alarmErr(body []byte) error {
	if len(body) == 0 {
		return &alarmError{text: "collective mismatch (an alarm without text)"}
	}
	return &alarmError{text: string(body[1:]), length: body[0] == 1}
}

// alarmError is a mismatch another rank found and reported.
type alarmError struct {
	text   string
	length bool
}

func (e *alarmError) Error() string { return e.text }

// Unwrap returns collectives.ErrCollectiveMismatch, and
// collectives.ErrLengthMismatch when only the lengths differed, as the
// mismatch the other rank found wraps them (the mpi sentinels match them
// once the error is in an *Error).
func (e *alarmError) Unwrap() []error {
	if e.length {
		return []error{collectives.ErrCollectiveMismatch, collectives.ErrLengthMismatch}
	}
	return []error{collectives.ErrCollectiveMismatch}
}

// watchColls is the watchdog: every collPingAfter it pings the peer of
// each collective receive that was already waiting at the tick before. It
// ends after Finalize.
func (e *engine) watchColls() {
	tick := time.NewTicker(collPingAfter)
	defer tick.Stop()
	for range tick.C {
		e.mu.Lock()
		if e.closed != nil {
			e.mu.Unlock()
			return
		}
		pings := e.match.stalledColls()
		e.mu.Unlock()
		for _, p := range pings {
			_ = e.send(context.Background(), p.ctx, p.dest, p.tag, p.desc[:], nil, false, nil)
		}
	}
}

// ping is a message for the peer of a long collective wait.
type ping struct {
	ctx       uint32
	dest, tag int
	desc      [collectives.SignatureLen]byte
}

// stalledColls returns the pings due: one per collective receive that has
// been waiting since the last tick, once.
func (m *matcher) stalledColls() []ping {
	var pings []ping
	for ctx, w := range m.colls {
		var r *recvOp
		for _, p := range m.posted {
			if p.ctx == ctx {
				r = p
				break
			}
		}
		if r != nil && r == w.waiting && r != w.pinged && w.broken == nil && w.sig.Kind != 0 {
			p := ping{ctx: ctx, dest: r.source, tag: int(w.seq)<<wireSeqShift | pingStep}
			w.sig.Put(p.desc[:])
			pings = append(pings, p)
			w.pinged = r
		}
		w.waiting = r
	}
	return pings
}
