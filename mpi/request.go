package mpi

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/gorun-mpi/gorun/internal/control"
)

// Request is a non-blocking operation started by Isend or Irecv. Complete it
// with Wait, Test, WaitAll or WaitAny. A nil *Request counts as already
// complete.
type Request struct {
	c     *Comm
	op    string
	peer  int
	tag   int
	comp  *completion
	recv  *recvOp // receives: the posted receive (own)
	own   recvOp  // receives: the posted receive's storage
	ptr   any     // receives: where the message goes
	goctx context.Context
	// gorun --trace: the receive's posting number, and whether its
	// completion is recorded whatever the buffer holds (see tracer);
	// the message it took, noted by settle before the message is reused.
	tracePost  uint64
	traceForce bool
	traceTook  bool
	traceMsg   recvPart

	mu      sync.Mutex
	settled bool
	status  Status
	err     error
}

// Isend starts sending v to dest with tag and returns at once. v must not
// change until the request completes. Errors are reported by Wait or Test.
func (c *Comm) Isend(v any, dest, tag int) *Request {
	sp := c.traceBegin("Isend")
	defer func() { sp.end(nil) }()
	req := &Request{c: c, op: "Isend", peer: dest, tag: tag}
	fail := func(err error) *Request { // settles req; err may be nil (done)
		req.settled, req.err = true, c.wrapErr("Isend", dest, tag, err)
		sp.end(req.err)
		return req
	}
	if err := c.usable(); err != nil {
		return fail(err)
	}
	if err := c.checkDest(dest); err != nil {
		return fail(err)
	}
	if err := checkSendTag(tag); err != nil {
		return fail(err)
	}
	desc, body, err := encodeValue(v)
	if err != nil {
		return fail(err)
	}
	req.goctx = c.goctx
	sp.sends(c, dest, tag, len(body))
	worldDest := c.group[dest]
	if worldDest == c.e.rank {
		ack, err := c.e.startSelf(c.ctx, tag, desc, body, c.e.syncSends)
		if err != nil || ack == nil {
			return fail(err)
		}
		req.comp = ack
		return req
	}
	// The message takes its place in the stream now, whatever its size:
	// an eager message is sent, a large one's RTS (which the receiver
	// matches in order) is; its body follows the clear-to-send.
	op, err := c.e.startSend(c.goctx, c.ctx, worldDest, tag, desc, body, c.e.syncSends, true)
	if err != nil || op == nil {
		return fail(err)
	}
	req.comp = &op.completion
	return req
}

// Irecv starts receiving from source with tag into ptr and returns at once.
// *ptr is set when the request completes.
func (c *Comm) Irecv(ptr any, source, tag int) *Request {
	sp := c.traceRecv("Irecv", source, tag)
	req := c.irecv("Irecv", ptr, source, tag)
	req.tracePosted(sp)
	sp.end(req.err)
	return req
}

func (c *Comm) irecv(op string, ptr any, source, tag int) *Request {
	req := &Request{}
	c.irecvInto(req, op, ptr, source, tag)
	return req
}

// irecvInto is irecv into req, a zero Request (new, or from the engine's
// pool: see engine.request).
func (c *Comm) irecvInto(req *Request, op string, ptr any, source, tag int) {
	req.c, req.op, req.peer, req.tag, req.ptr = c, op, source, tag, ptr
	err := c.checkRecvArgs(source, tag)
	if err == nil {
		err = checkTarget(ptr)
	}
	if err != nil {
		req.settled, req.err = true, c.wrapErr(op, source, tag, err)
		return
	}
	req.goctx = c.goctx
	r := &req.own
	r.ctx, r.source, r.tag = c.ctx, c.worldSource(source), tag
	if c.goctx == nil {
		// Not cancellable, so the body may be read straight into ptr's
		// slice: nothing can hand it back to the caller mid-write.
		r.target = ptr // for directTarget, if a rendezvous matches
	}
	req.recv = r
	req.comp = &r.completion
	c.e.post(r)
}

// Wait blocks until the request completes and returns its status (for
// receives) and error.
func (r *Request) Wait() (Status, error) {
	if r == nil {
		return Status{}, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.settled {
		return r.status, r.err
	}
	sp := r.traceWait()
	defer func() { sp.received(r, r.err) }()
	return r.awaitSettled()
}

// Test reports whether the request has completed, with its status and
// error when it has. It never blocks.
func (r *Request) Test() (Status, bool, error) {
	if r == nil {
		return Status{}, true, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.settled {
		return r.status, true, r.err
	}
	start := r.c.traceNow()
	if !r.comp.isDone() && r.c.e.poller != nil {
		r.c.e.poller.Poll()
	}
	if r.recv != nil {
		// Its acknowledgement is on its way out: the receive finishes
		// as soon as it is written (see recvOp.acking).
		for !r.comp.isDone() && r.recv.acking.Load() {
			runtime.Gosched()
		}
	}
	if !r.comp.isDone() {
		return Status{}, false, nil
	}
	r.settle()
	r.traceTested(start)
	return r.status, true, r.err
}

// settle turns a finished operation into the request's result: for a
// receive, decodes the message into ptr. Called with r.mu held.
func (r *Request) settle() {
	r.settled = true
	if err := r.comp.err; err != nil {
		r.err = r.c.wrapErr(r.op, r.peer, r.tag, err)
		return
	}
	if r.recv == nil {
		return
	}
	msg := r.recv.msg
	r.traceTaking(msg)
	desc, body := msg.head, msg.body
	if !msg.rndv && msg.head == nil {
		var err error
		if desc, body, err = splitMessage(msg.body); err != nil {
			r.err = r.c.wrapErr(r.op, r.c.local[msg.env.source], msg.env.tag, err)
			return
		}
	}
	r.status = r.c.status(msg, len(body))
	var mc *msgCodec
	if len(desc) > 0 && desc[0] == fmtMsgpack {
		mc = r.c.e.codec()
	}
	if err := decodeWith(desc, body, r.ptr, mc, msg.borrowed); err != nil {
		r.err = r.c.wrapErr(r.op, r.status.Source, r.status.Tag, err)
	}
	if mc != nil {
		r.c.e.recycleCodec(mc)
	}
	// Nothing reads the message any more (gorun --trace noted what it
	// records of it above): its struct serves the next arrival.
	r.recv.msg = nil
	r.c.e.recycleMessage(msg)
}

// request returns a zero Request for a blocking call's receive (Recv,
// Sendrecv), which hands it back with recycle once done with it.
func (e *engine) request() *Request {
	if req := e.requests.get(); req != nil {
		return req
	}
	return &Request{}
}

// recycle hands back a Request from request once its receive is over:
// settled, or withdrawn before it matched; nothing else refers to it then
// (finish touches nothing of a completion after marking it finished; gorun
// --trace's records keep a copy of what they say of it).
func (e *engine) recycle(req *Request) {
	if !req.settled {
		return
	}
	*req = Request{}
	e.requests.put(req)
}

func (r *Request) peerWord() string {
	if r.recv != nil {
		return "source"
	}
	return "dest"
}

// WaitAll waits for every request and returns the errors of those that
// failed, joined (nil when all succeeded).
func WaitAll(reqs ...*Request) (err error) {
	sp := traceRequests("WaitAll", reqs)
	defer sp.endErr(&err)
	var errs []error
	for _, r := range reqs {
		if _, err := r.Wait(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// WaitAny waits until one of the requests completes and returns its index,
// status and error. Nil requests are skipped; with no non-nil request it
// returns -1.
func WaitAny(reqs ...*Request) (index int, st Status, err error) {
	sp := traceRequests("WaitAny", reqs)
	defer sp.endErr(&err)
	live := 0
	for i, r := range reqs {
		if r == nil {
			continue
		}
		live++
		if st, done, err := r.Test(); done {
			return i, st, err
		}
	}
	if live == 0 {
		return -1, Status{}, nil
	}
	var e *engine
	for _, r := range reqs {
		if r != nil && r.c != nil && r.c.e != nil {
			e = r.c.e
			break
		}
	}
	any := &completion{}
	any.init()
	var once sync.Once
	stop := make(chan struct{})
	defer close(stop)
	for _, r := range reqs {
		if r == nil || r.comp == nil {
			continue
		}
		go func(done <-chan struct{}) {
			select {
			case <-done:
				once.Do(func() { any.finish(nil) })
			case <-stop:
			}
		}(r.comp.done())
	}
	what := func() control.Wait {
		return control.Wait{Call: fmt.Sprintf("WaitAny(%d requests)", live), Op: "WaitAny", Peer: control.AllPeers}
	}
	noneDone := func() bool {
		for _, r := range reqs {
			if r != nil && r.comp != nil && r.comp.isDone() {
				return false
			}
		}
		return true
	}
	if e != nil {
		_ = e.awaitUntil(context.Background(), any, callSite{info: what}, noneDone)
	} else {
		<-any.done()
	}
	for i, r := range reqs {
		if r == nil {
			continue
		}
		if st, done, err := r.Test(); done {
			return i, st, err
		}
	}
	return -1, Status{}, fmt.Errorf("mpi: WaitAny woke with no request complete")
}
