package mpi

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/gorun-mpi/gorun/comm"
)

// send delivers one message of context ctx to world rank dest. Small
// messages go eagerly and send returns at once; sync sends and messages
// larger than the eager limit use rendezvous: an RTS carrying desc, then,
// once the receiver matched it and answered clear-to-send, the body. what
// describes the call for deadlock reports; nil marks an internal wait that
// must not count as the rank being blocked.
func (e *engine) send(goctx context.Context, ctx uint32, dest, tag int, desc, body []byte, sync bool, what func() string) error {
	if dest == e.rank {
		return e.sendSelf(goctx, ctx, tag, desc, body, sync, what)
	}
	if e.t == nil {
		return fmt.Errorf("%w: no transport", ErrRank)
	}
	if !sync && len(desc)+len(body) <= e.eagerLimit {
		h := comm.Header{Kind: comm.KindEager, Context: ctx, Tag: int32(tag)}
		var err error
		if ps, ok := e.t.(comm.PartsSender); ok {
			err = ps.SendParts(ctxOrBackground(goctx), dest, h, desc, body)
		} else {
			err = e.t.Send(ctxOrBackground(goctx), dest, h, joinMessage(desc, body))
		}
		if err != nil {
			return e.sendError(dest, err)
		}
		e.sent[dest].Add(1)
		return nil
	}
	op := &sendOp{dest: dest, body: body}
	op.init()
	if !e.yield {
		op.expectTransfer(len(body))
	}
	e.mu.Lock()
	if e.closed != nil {
		e.mu.Unlock()
		return e.closed
	}
	if err := e.gone[dest]; err != nil {
		e.mu.Unlock()
		return err
	}
	id := e.nextID
	e.nextID++
	e.sends[id] = op
	e.mu.Unlock()
	h := comm.Header{Kind: comm.KindRTS, Context: ctx, Tag: int32(tag), Seq: id, Size: uint64(len(body))}
	rts := desc
	if goctx == nil && e.canBePulled(body) {
		// Not cancellable, so body stays ours until the receiver answers:
		// it may copy it straight out of our memory.
		h.Kind, rts = comm.KindRTSLocal, localRTS(desc, body)
	}
	if err := e.t.Send(ctxOrBackground(goctx), dest, h, rts); err != nil {
		e.mu.Lock()
		delete(e.sends, id)
		e.mu.Unlock()
		return e.sendError(dest, err)
	}
	e.sent[dest].Add(1)
	if err := e.await(goctx, &op.completion, what); err != nil {
		if !isContextErr(err) {
			return err
		}
		e.mu.Lock()
		_, waiting := e.sends[id]
		if waiting {
			op.abandoned = true
		}
		e.mu.Unlock()
		if waiting {
			return err
		}
		<-op.done // the clear-to-send raced with the cancellation: finish the send
		if op.err != nil {
			return op.err
		}
	}
	if op.pulled {
		runtime.KeepAlive(body) // the receiver read it out of our memory until now
		return nil
	}
	return e.sendBody(dest, id, body)
}

// sendBody sends the body of rendezvous id after its clear-to-send. It
// ignores cancellation: a half-sent body would break the stream.
func (e *engine) sendBody(dest int, id uint64, body []byte) error {
	h := comm.Header{Kind: comm.KindRndvData, Seq: id}
	if err := e.t.Send(context.Background(), dest, h, body); err != nil {
		return e.sendError(dest, err)
	}
	e.sent[dest].Add(1)
	return nil
}

// sendSelf loops a message back into our own matcher. It is always
// buffered (copied), so a send to oneself before the receive cannot block,
// except a sync send, which waits for its match.
func (e *engine) sendSelf(goctx context.Context, ctx uint32, tag int, desc, body []byte, sync bool, what func() string) error {
	payload := make([]byte, len(desc)+len(body))
	copy(payload[copy(payload, desc):], body)
	msg := &message{env: envelope{ctx: ctx, source: e.rank, tag: tag}, body: payload, size: len(payload)}
	var ack completion
	if sync {
		ack.init()
		msg.selfAck = func() { ack.finish(nil) }
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed != nil {
		return closed
	}
	e.arrive(msg)
	if !sync {
		return nil
	}
	return e.await(goctx, &ack, what)
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
// or sends the body itself when the sender gave up waiting.
func (e *engine) onClearToSend(id uint64, pulled bool) {
	e.mu.Lock()
	op := e.sends[id]
	delete(e.sends, id)
	if op != nil {
		op.pulled = pulled
	}
	abandoned := op != nil && op.abandoned
	e.mu.Unlock()
	switch {
	case op == nil:
	case abandoned:
		e.async.Add(1)
		go func() {
			defer e.async.Done()
			_ = e.sendBody(op.dest, id, op.body)
			op.finish(nil)
		}()
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
