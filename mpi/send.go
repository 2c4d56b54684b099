package mpi

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/gorun-mpi/gorun/comm"
)

// send delivers one message of context ctx to world rank dest. Small
// messages go eagerly and send returns at once, or, for a sync send, once
// the receiver acknowledges the match; messages larger than the eager limit
// use rendezvous: an RTS carrying desc, then, once the receiver matched it
// and answered clear-to-send, the body; up to the push limit, a send other
// than a sync send pushes its body after the RTS at once (see push). what
// describes the call for deadlock reports; nil marks an internal wait that
// must not count as the rank being blocked.
func (e *engine) send(goctx context.Context, ctx uint32, dest, tag int, desc, body []byte, sync bool, what callInfo) error {
	return e.sendAt(goctx, ctx, dest, tag, desc, body, sync, func() callSite { return callSite{info: what} })
}

// sendAt is send for a call described by what site returns (see
// callSite), called only when the send has to wait: an eager message,
// sent at once, builds no description (see polledDone for why that
// counts).
func (e *engine) sendAt(goctx context.Context, ctx uint32, dest, tag int, desc, body []byte, sync bool, site func() callSite) error {
	if dest == e.rank {
		return e.sendSelf(goctx, ctx, tag, desc, body, sync, site)
	}
	op, err := e.startSend(goctx, ctx, dest, tag, desc, body, sync, false)
	if err != nil || op == nil {
		return err
	}
	return e.finishSend(goctx, op, site())
}

// startSend gives a message its place in the stream to dest: an eager
// message is sent whole (op is nil: nothing is left to do); a rendezvous
// sends its RTS, which is what the receiver matches in order, and returns
// the send waiting for its clear-to-send. A detached send (Isend) needs no
// caller to finish it: the clear-to-send's handler sends the body and then
// finishes op.
func (e *engine) startSend(goctx context.Context, ctx uint32, dest, tag int, desc, body []byte, sync, detached bool) (*sendOp, error) {
	if e.t == nil {
		return nil, fmt.Errorf("%w: no transport", ErrRank)
	}
	if uint64(len(body)) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes, more than mpi.MaxMessageSize (%d)", ErrTooLarge, len(body), uint64(MaxMessageSize))
	}
	small := len(desc)+len(body) <= e.eagerLimit[dest]
	if small && sync {
		return e.startSyncEager(goctx, ctx, dest, tag, desc, body, detached)
	}
	if small {
		h := comm.Header{Kind: kindEager, Context: ctx, Tag: int32(tag)}
		e.countSend(dest)
		var err error
		if e.parts != nil {
			err = e.parts.SendParts(ctxOrBackground(goctx), dest, h, desc, body)
		} else {
			err = e.t.Send(ctxOrBackground(goctx), dest, h, joinMessage(desc, body))
		}
		if err != nil {
			e.uncountSend(dest)
			return nil, e.sendError(dest, err)
		}
		return nil, nil
	}
	if !sync && len(desc)+len(body) <= e.pushLimit[dest] {
		return nil, e.push(goctx, ctx, dest, tag, desc, body)
	}
	op, err := e.register(dest, body, detached)
	if err != nil {
		return nil, err
	}
	if !e.yield {
		op.expectTransfer(len(body))
	}
	h := comm.Header{Kind: kindRTS, Context: ctx, Tag: int32(tag), Seq: op.id}
	var addr uint64
	if (goctx == nil || detached) && e.canBePulled(dest, body) {
		// Nothing hands body back to the caller before the receiver
		// answers (a blocking send is not cancellable, a detached one
		// completes only then): it may copy body straight out of our memory.
		h.Kind, addr = kindRTSLocal, bodyAddress(body)
		if goctx == nil && !detached && e.canShare(dest, body) {
			h.Kind = kindRTSShared // we wait anyway: we can copy a share
		}
	}
	rts := encodeRTS(uint64(len(body)), addr, desc)
	if err := e.sendFrame(goctx, dest, h, rts); err != nil {
		return nil, e.unregister(op, dest, err)
	}
	return op, nil
}

// push sends a message of at most e.pushLimit[dest] bytes as a rendezvous
// whose body follows its announcement at once, unasked: the receiver
// matches the announcement in order and reads the body into the receive's
// buffer when a receive took it already, else keeps it on the message as
// an eager body. The send is then over, as an eager one is. Once the
// announcement went, the body goes whatever goctx says: a message
// announced and never sent would break the stream.
func (e *engine) push(goctx context.Context, ctx uint32, dest, tag int, desc, body []byte) error {
	e.mu.Lock()
	e.nextID++
	id := e.nextID
	e.mu.Unlock()
	h := comm.Header{Kind: kindRTSPush, Context: ctx, Tag: int32(tag), Seq: id}
	if err := e.sendFrame(goctx, dest, h, encodeRTS(uint64(len(body)), 0, desc)); err != nil {
		return e.sendError(dest, err)
	}
	return e.sendBody(dest, id, body, false)
}

// startSyncEager sends a small sync message whole, as MPICH does: an eager
// frame whose Seq names the send, which the receiver acknowledges with a
// clear-to-send once a receive has taken it. The receive completes with the
// frame's arrival; the sender with the acknowledgement, no body to follow.
func (e *engine) startSyncEager(goctx context.Context, ctx uint32, dest, tag int, desc, body []byte, detached bool) (*sendOp, error) {
	op, err := e.register(dest, nil, detached)
	if err != nil {
		return nil, err
	}
	op.eager = true
	h := comm.Header{Kind: kindEager, Context: ctx, Tag: int32(tag), Seq: op.id}
	if err := e.sendFrame(goctx, dest, h, joinMessage(desc, body)); err != nil {
		return nil, e.unregister(op, dest, err)
	}
	return op, nil
}

// register records a send that waits for its clear-to-send, under a new id
// (never 0: an eager frame's Seq of 0 asks for no acknowledgement).
func (e *engine) register(dest int, body []byte, detached bool) (*sendOp, error) {
	op := &sendOp{dest: dest, body: body, detached: detached}
	op.init()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed != nil {
		return nil, e.closed
	}
	if err := e.gone[dest]; err != nil {
		return nil, err
	}
	e.nextID++
	op.id = e.nextID
	e.sends[op.id] = op
	return op, nil
}

// unregister withdraws a send whose first frame could not be sent and
// returns the error to report: its own, if something else (a peer gone,
// Finalize) failed it meanwhile.
func (e *engine) unregister(op *sendOp, dest int, err error) error {
	e.mu.Lock()
	_, ours := e.sends[op.id]
	delete(e.sends, op.id)
	e.mu.Unlock()
	if !ours {
		<-op.done()
		return op.err
	}
	return e.sendError(dest, err)
}

// finishSend waits for a rendezvous send's clear-to-send and sends its body.
func (e *engine) finishSend(goctx context.Context, op *sendOp, site callSite) error {
	if err := e.awaitAt(goctx, &op.completion, site); err != nil {
		if !isContextErr(err) {
			return err
		}
		e.mu.Lock()
		_, waiting := e.sends[op.id]
		if waiting {
			op.detached = true
		}
		e.mu.Unlock()
		if waiting {
			return err // the clear-to-send's handler will send the body
		}
		<-op.done() // the clear-to-send raced with the cancellation: finish the send
		if op.err != nil {
			return op.err
		}
	}
	if op.pulled || op.eager {
		runtime.KeepAlive(op.body) // a pulled body was read out of our memory until now
		return nil
	}
	return e.sendBody(op.dest, op.id, op.body, false)
}

// sendBody sends the body of rendezvous id after its clear-to-send (or,
// pushed, after its announcement). It
// ignores cancellation: a half-sent body would break the stream. counted
// says the frame was counted as sent already.
func (e *engine) sendBody(dest int, id uint64, body []byte, counted bool) error {
	h := comm.Header{Kind: kindRndvData, Seq: id}
	if !counted {
		e.countSend(dest)
	}
	e.slowCopy()
	if err := e.t.Send(context.Background(), dest, h, body); err != nil {
		e.uncountSend(dest)
		return e.sendError(dest, err)
	}
	return nil
}

// countSend counts a frame to dest as sent. It is called before the
// frame's first byte leaves, and before the handler of whatever caused the
// frame returns (a frame sent from a goroutine is counted before the
// goroutine starts), so that gorun sees the frame in flight until the
// receiver has handled it.
func (e *engine) countSend(dest int) { e.sent[dest].Add(1) }

// uncountSend takes back the count of a frame the transport did not send.
func (e *engine) uncountSend(dest int) { e.sent[dest].Add(^uint64(0)) }

// sendFrame sends one frame to dest, counted as sent before it leaves.
func (e *engine) sendFrame(goctx context.Context, dest int, h comm.Header, payload []byte) error {
	e.countSend(dest)
	if err := e.t.Send(ctxOrBackground(goctx), dest, h, payload); err != nil {
		e.uncountSend(dest)
		return err
	}
	return nil
}

// trySendFrame sends a payload-less frame at once if the transport can
// without blocking; false when it cannot (nothing was sent or counted).
func (e *engine) trySendFrame(dest int, h comm.Header) bool {
	ts, ok := e.t.(comm.TrySender)
	if !ok {
		return false
	}
	e.countSend(dest)
	if sent, _ := ts.TrySend(dest, h, nil); sent {
		return true
	}
	e.uncountSend(dest)
	return false
}

// sendSelf loops a message back into our own matcher. It is always
// buffered (copied), so a send to oneself before the receive cannot block,
// except a sync send, which waits for its match.
func (e *engine) sendSelf(goctx context.Context, ctx uint32, tag int, desc, body []byte, sync bool, site func() callSite) error {
	ack, err := e.startSelf(ctx, tag, desc, body, sync)
	if err != nil || ack == nil {
		return err
	}
	return e.awaitAt(goctx, ack, site())
}

// startSelf queues a message to ourselves; for a sync send it returns the
// completion that finishes when a receive matches it.
func (e *engine) startSelf(ctx uint32, tag int, desc, body []byte, sync bool) (*completion, error) {
	payload := make([]byte, len(desc)+len(body))
	copy(payload[copy(payload, desc):], body)
	msg := e.newMessage()
	msg.env, msg.body, msg.size = envelope{ctx: ctx, source: e.rank, tag: tag}, payload, len(payload)
	var ack *completion
	if sync {
		ack = &completion{}
		ack.init()
		msg.selfAck = func() { ack.finish(nil) }
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed != nil {
		return nil, closed
	}
	e.arrive(msg)
	return ack, nil
}

// sendError turns a transport's send error into the mpi layer's terms.
func (e *engine) sendError(dest int, err error) error {
	switch {
	case isContextErr(err):
		return err
	case errors.Is(err, comm.ErrPeerLost), errors.Is(err, comm.ErrPeerFinished):
		return peerError(dest, err)
	case errors.Is(err, comm.ErrFrameTooLarge):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, comm.ErrClosed):
		return fmt.Errorf("%w: %w", ErrFinalized, err)
	}
	return err
}

// onClearToSend is called by Deliver for a CTS: it wakes the waiting sender,
// or, for a detached send (an Isend, or a send whose caller stopped
// waiting), sends the body itself and then finishes the send.
func (e *engine) onClearToSend(id uint64, pulled bool) {
	e.mu.Lock()
	op := e.sends[id]
	delete(e.sends, id)
	if op != nil {
		op.pulled = pulled
	}
	detached := op != nil && op.detached
	e.mu.Unlock()
	switch {
	case op == nil:
	case detached && (pulled || op.eager):
		op.finish(nil)
	case detached:
		e.countSend(op.dest) // before Deliver returns: see countSend
		e.goAsync(func() { op.finish(e.sendBody(op.dest, id, op.body, true)) })
	default:
		op.finish(nil)
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func ctxOrBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
