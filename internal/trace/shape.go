package trace

import "cmp"

// callShape is what a call's event shares with the calls alike: all but
// its times, its send's number and the world ranks of its peers (which no
// writer shows). A lane's calls mostly come in few shapes (a loop sends
// the same message again and again), so the writers encode the parts a
// shape's events share once.
type callShape struct {
	op, note, err                  string
	flags                          Flags
	comm                           uint32
	destLocal, sendTag, sendSize   int
	sourceLocal, recvTag, recvSize int
}

func shapeOf(c *Record) callShape {
	k := callShape{op: c.Op, note: c.Note, flags: c.Flags, comm: c.Comm}
	if c.Flags.Has(Failed) {
		k.err = c.Err
	}
	if c.Flags.Has(HasSend) {
		k.destLocal, k.sendTag, k.sendSize = c.DestLocal, c.SendTag, c.SendSize
	}
	if c.Flags.Has(HasRecv) {
		k.sourceLocal, k.recvTag, k.recvSize = c.SourceLocal, c.RecvTag, c.RecvSize
	}
	return k
}

// shapeParts are the encoded parts of one shape's events.
type shapeParts struct {
	json jsonShape // in WriteJSON's file, on one track
	kind int       // in WriteHTML's page: the index of its kind
}

// maxShapes bounds the shapes a shapeCache keeps: calls of other shapes
// are encoded field by field.
const maxShapes = 1024

// shapeCache finds the parts of a call's shape, made at its first call.
// The shapes met last are looked for first, field by field, before the
// map: a lane's calls mostly alternate between a few shapes (a server
// receiving from one client, then another).
type shapeCache struct {
	m      map[callShape]*shapeParts
	recent [8]struct {
		key   callShape
		parts *shapeParts
	}
	next  int // the entry of recent to replace
	made  int // shapes made (WriteHTML numbers them)
	limit int // the most shapes kept; 0: maxShapes
}

// reset forgets every shape.
func (sc *shapeCache) reset() {
	clear(sc.m)
	sc.made = 0
	sc.recent = [len(sc.recent)]struct {
		key   callShape
		parts *shapeParts
	}{}
}

// find returns the parts of c's shape, made by build if c is the first
// call of its shape; nil when the cache is full and c's shape not in it.
func (sc *shapeCache) find(c *Record, build func(*shapeParts)) *shapeParts {
	for i := range sc.recent {
		if e := &sc.recent[i]; e.parts != nil && e.key.is(c) {
			return e.parts
		}
	}
	k := shapeOf(c)
	p := sc.m[k]
	if p == nil {
		if len(sc.m) >= cmp.Or(sc.limit, maxShapes) {
			return nil
		}
		if sc.m == nil {
			sc.m = map[callShape]*shapeParts{}
		}
		p = &shapeParts{}
		build(p)
		sc.m[k] = p
	}
	e := &sc.recent[sc.next]
	e.key, e.parts = k, p
	sc.next = (sc.next + 1) % len(sc.recent)
	return p
}

// is reports whether c is of shape k.
func (k *callShape) is(c *Record) bool {
	if k.flags != c.Flags || k.comm != c.Comm {
		return false
	}
	if c.Flags.Has(HasSend) && (k.destLocal != c.DestLocal || k.sendTag != c.SendTag || k.sendSize != c.SendSize) {
		return false
	}
	if c.Flags.Has(HasRecv) && (k.sourceLocal != c.SourceLocal || k.recvTag != c.RecvTag || k.recvSize != c.RecvSize) {
		return false
	}
	return k.op == c.Op && k.note == c.Note && (!c.Flags.Has(Failed) || k.err == c.Err)
}
