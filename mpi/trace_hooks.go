package mpi

import (
	"fmt"
)

// The hooks the public calls make for gorun --trace. Each costs a nil check
// when tracing is off.

// tracer returns c's world's tracer, nil when tracing is off.
func (c *Comm) tracer() *tracer {
	if c == nil || c.shared == nil || c.shared.world == nil {
		return nil
	}
	return c.shared.world.trace
}

// traceBegin starts recording a call named op on c.
func (c *Comm) traceBegin(op string) *span {
	t := c.tracer()
	if t == nil {
		return nil
	}
	return t.begin(op, c.ctx, false)
}

// traceRecv starts recording a receive named op from source with tag,
// numbering the receive it posts (see tracePosted).
func (c *Comm) traceRecv(op string, source, tag int) *span {
	t := c.tracer()
	if t == nil {
		return nil
	}
	return t.beginPosting(op, c.ctx, waitSource(source, tag))
}

// traceProbe starts recording a probe named op from source with tag.
func (c *Comm) traceProbe(op string, source, tag int) *span {
	t := c.tracer()
	if t == nil {
		return nil
	}
	return t.beginWaiting(op, c.ctx, false, waitSource(source, tag), 0)
}

// tracePosted gives r, the receive that sp (begun by traceRecv) posts,
// its number, and says whether its completion is recorded even once the
// buffer is full (it is when sp was recorded).
func (r *Request) tracePosted(sp *span) {
	if sp == nil {
		return
	}
	r.tracePost = sp.post
	r.traceForce = sp.call >= 0
}

// traceTaking notes, as settle takes msg for r, what gorun --trace
// records of it (received): settle then hands msg back for reuse.
func (r *Request) traceTaking(msg *message) {
	if r.c.tracer() == nil {
		return
	}
	size := bodySize(msg) // what Status says, or what came when it cannot say
	if msg.rndv && len(msg.body) > 0 {
		size = len(msg.body)
	}
	r.traceTook = true
	r.traceMsg = recvPart{source: msg.env.source, sourceLocal: r.c.local[msg.env.source], tag: msg.env.tag, size: size}
}

// traceWait starts recording a Wait called on r by the user (Recv and
// Sendrecv record themselves).
func (r *Request) traceWait() *span {
	t := r.c.tracer()
	if t == nil || r.op == "Recv" || r.op == "Sendrecv" {
		return nil
	}
	return t.beginWaiting("Wait", r.c.ctx, r.traceForce, waitFor{wantedPeer: true, op: r.op, dest: r.recv == nil, peer: r.peer, tag: r.tag}, 0)
}

// traceNow reads the trace clock, 0 when tracing is off: the start of a
// call that is recorded only if it turns out to complete something (Test,
// Iprobe), so that polling loops do not fill the buffer.
func (c *Comm) traceNow() int64 {
	if t := c.tracer(); t != nil {
		return t.now()
	}
	return 0
}

// traceTested records a Test, begun at start, that completed r.
func (r *Request) traceTested(start int64) {
	t := r.c.tracer()
	if t == nil {
		return
	}
	if sp := t.beginWaiting("Test", r.c.ctx, r.traceForce, waitFor{}, start); sp != nil {
		sp.received(r, r.err)
	}
}

// traceFound records a Probe or Iprobe (begun at start) that found st.
func (c *Comm) traceFound(op string, start int64, st Status, err error) {
	t := c.tracer()
	if t == nil {
		return
	}
	if sp := t.beginWaiting(op, c.ctx, false, waitFor{}, start); sp != nil {
		sp.probed(st, err)
	}
}

// traceRequests starts recording WaitAll or WaitAny over reqs.
func traceRequests(op string, reqs []*Request) *span {
	for _, r := range reqs {
		if r != nil && r.c != nil {
			if t := r.c.tracer(); t != nil {
				sp := t.begin(op, 0, false)
				if sp != nil {
					sp.setNote(fmt.Sprintf("%d requests", len(reqs)))
				}
				return sp
			}
			return nil
		}
	}
	return nil
}

// probed ends a Probe's record with what it found.
func (sp *span) probed(st Status, err error) {
	if sp == nil {
		return
	}
	if err == nil {
		sp.setNote(fmt.Sprintf("found: source %d, tag %d, %d B", st.Source, st.Tag, st.Size))
	}
	sp.end(err)
}
