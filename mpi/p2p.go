package mpi

import (
	"fmt"
	"reflect"

	"github.com/gorun-mpi/gorun/internal/control"
)

// Send sends v to rank dest of c with tag (0 <= tag <= MaxTag). v is any
// msgpack-encodable value; slices of fixed-size numbers travel as raw bytes.
// Messages up to the eager limit (DefaultEagerLimit) are buffered and Send
// returns before the receive is posted; larger ones wait until the receiver
// has matched them. Once Send returns, v's memory is the caller's again: it
// may be changed or reused for the next message (MPI's blocking send).
func (c *Comm) Send(v any, dest, tag int) error {
	return c.send("Send", v, dest, tag, false)
}

// Ssend sends like Send but returns only once the receiver has matched the
// message, whatever its size.
func (c *Comm) Ssend(v any, dest, tag int) error {
	return c.send("Ssend", v, dest, tag, true)
}

func (c *Comm) send(op string, v any, dest, tag int, sync bool) error {
	sp := c.traceBegin(op)
	err := c.sendIn(sp, op, v, dest, tag, sync)
	sp.end(err)
	return err
}

// sendIn is send, recorded (when tracing) in the call sp.
func (c *Comm) sendIn(sp *span, op string, v any, dest, tag int, sync bool) error {
	if err := c.usable(); err != nil {
		return c.wrapErr(op, dest, tag, err)
	}
	if err := c.checkDest(dest); err != nil {
		return c.wrapErr(op, dest, tag, err)
	}
	if err := checkSendTag(tag); err != nil {
		return c.wrapErr(op, dest, tag, err)
	}
	desc, body, mc, err := c.e.encode(v)
	if err != nil {
		return c.wrapErr(op, dest, tag, err)
	}
	sp.sends(c, dest, tag, len(body))
	err = c.e.sendAt(c.goctx, c.ctx, c.group[dest], tag, desc, body, sync || c.e.syncSends,
		func() callSite { return c.site(op, "dest", dest, tag, false) })
	if mc != nil && err == nil {
		// Sent: nothing refers to the bytes any more. A send that failed
		// may have left them to a clear-to-send's handler (a cancelled
		// rendezvous): they stay the garbage collector's.
		c.e.recycleCodec(mc)
	}
	return c.wrapErr(op, dest, tag, err)
}

// Recv receives a message from source (or AnySource) with tag (or AnyTag)
// into ptr, a non-nil pointer to a value that can hold it. When the message
// cannot be decoded into *ptr, the error (wrapping ErrTypeMismatch) names
// both types; the message is consumed and later ones are unaffected.
func (c *Comm) Recv(ptr any, source, tag int) (Status, error) {
	sp := c.traceRecv("Recv", source, tag)
	req := c.e.request()
	c.irecvInto(req, "Recv", ptr, source, tag)
	req.tracePosted(sp)
	st, err := req.waitOwn()
	sp.received(req, err)
	c.e.recycle(req)
	return st, err
}

// Sendrecv sends v to dest and receives from source into ptr at the same
// time, so that two ranks exchanging messages cannot deadlock whatever the
// messages' sizes.
func (c *Comm) Sendrecv(v any, dest, sendTag int, ptr any, source, recvTag int) (st Status, err error) {
	sp := c.traceRecv("Sendrecv", source, recvTag)
	recv := c.e.request()
	c.irecvInto(recv, "Sendrecv", ptr, source, recvTag)
	recv.tracePosted(sp)
	defer func() {
		sp.received(recv, err)
		c.e.recycle(recv)
	}()
	if recv.err != nil && recv.settled {
		return Status{}, recv.err
	}
	if err := c.sendIn(sp, "Sendrecv", v, dest, sendTag, false); err != nil {
		if c.e.cancelRecv(recv.recv) {
			return Status{}, err
		}
		_, _ = recv.waitOwn()
		return Status{}, err
	}
	return recv.waitOwn()
}

// Probe waits until a message from source with tag can be received and
// describes it without receiving it. A Recv with the same source and tag
// that follows gets this message.
func (c *Comm) Probe(source, tag int) (st Status, err error) {
	if err := c.checkRecvArgs(source, tag); err != nil {
		return Status{}, c.wrapErr("Probe", source, tag, err)
	}
	sp := c.traceProbe("Probe", source, tag)
	defer func() { sp.probed(st, err) }()
	for {
		seen := c.e.arrivals()
		st, found, err := c.iprobe(source, tag)
		if err != nil || found {
			return st, c.wrapErr("Probe", source, tag, err)
		}
		if err := c.e.awaitAt(c.goctx, seen, c.site("Probe", "source", source, tag, true)); err != nil {
			return Status{}, c.wrapErr("Probe", source, tag, err)
		}
	}
}

// Iprobe reports whether a message from source with tag can be received
// now, and describes it.
func (c *Comm) Iprobe(source, tag int) (Status, bool, error) {
	if err := c.checkRecvArgs(source, tag); err != nil {
		return Status{}, false, c.wrapErr("Iprobe", source, tag, err)
	}
	start := c.traceNow()
	if c.e.poller != nil {
		c.e.poller.Poll()
	}
	st, found, err := c.iprobe(source, tag)
	if found {
		c.traceFound("Iprobe", start, st, err)
	}
	return st, found, c.wrapErr("Iprobe", source, tag, err)
}

func (c *Comm) iprobe(source, tag int) (Status, bool, error) {
	p, found, err := c.e.probe(c.ctx, c.worldSource(source), tag)
	if err != nil || !found {
		return Status{}, false, err
	}
	return Status{Source: c.local[p.env.source], Tag: p.env.tag, Size: p.size}, true, nil
}

func (c *Comm) checkRecvArgs(source, tag int) error {
	if err := c.usable(); err != nil {
		return err
	}
	if err := c.checkSource(source); err != nil {
		return err
	}
	return checkRecvTag(tag)
}

// bodySize is the payload size of a message without its descriptor.
func bodySize(msg *message) int {
	if msg.rndv {
		return msg.size
	}
	if desc, _, err := splitMessage(msg.body); err == nil {
		return len(msg.body) - len(desc)
	}
	return len(msg.body)
}

func checkTarget(ptr any) error {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("%w: got %s", ErrNotPointer, typeName(ptr))
	}
	return nil
}

// callSite describes a blocking call for deadlock reports without
// allocating: either a ready description (info), or the fields of a point
// to point call on c, turned into one (callInfo) only when the call goes
// to sleep. The zero callSite describes nothing (an internal wait).
type callSite struct {
	info     callInfo
	c        *Comm
	op       string
	peerWord string
	peer     int
	tag      int
	recv     bool
}

// site describes a blocking call on c. recv: the call waits for a message
// to arrive.
func (c *Comm) site(op, peerWord string, peer, tag int, recv bool) callSite {
	return callSite{c: c, op: op, peerWord: peerWord, peer: peer, tag: tag, recv: recv}
}

// callInfo returns the description, nil for none.
func (s callSite) callInfo() callInfo {
	if s.info != nil || s.c == nil {
		return s.info
	}
	return s.c.describeCall(s.op, s.peerWord, s.peer, s.tag, s.recv)
}

// describeCall describes a blocking call on c for deadlock reports,
// lazily. recv: the call waits for a message to arrive.
func (c *Comm) describeCall(op, peerWord string, peer, tag int, recv bool) callInfo {
	return func() control.Wait {
		p, world := fmt.Sprint(peer), control.AnyPeer
		if peer == AnySource {
			p = "any"
		} else if peer >= 0 && peer < len(c.group) {
			world = c.group[peer]
		}
		t := fmt.Sprint(tag)
		if tag == AnyTag {
			t = "any"
		}
		return control.Wait{Call: fmt.Sprintf("%s(%s %s, tag %s)", op, peerWord, p, t), Op: op,
			Peer: world, Tag: tag, Comm: c.ctx, Recv: recv}
	}
}
