package trace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Category sorts calls for colouring and filtering: "send", "recv",
// "sendrecv", "wait", "probe" or "collective".
func Category(c Record) string {
	switch {
	case c.Flags.Has(HasSend | HasRecv):
		return "sendrecv"
	case c.Op == "Send" || c.Op == "Ssend" || c.Op == "Isend":
		return "send"
	case c.Op == "Recv" || c.Op == "Irecv":
		return "recv"
	case c.Op == "Sendrecv":
		return "sendrecv"
	case c.Op == "Wait" || c.Op == "Test" || c.Op == "WaitAll" || c.Op == "WaitAny":
		return "wait"
	case c.Op == "Probe" || c.Op == "Iprobe":
		return "probe"
	}
	return "collective"
}

// JSONPid is the process every rank's track belongs to in WriteJSON's
// output.
const JSONPid = 1

// JSONTid is the track id of rank in WriteJSON's output.
func JSONTid(rank int) int { return rank + 1 }

// WriteJSON writes tl in the Chrome trace-event format that Perfetto
// (ui.perfetto.dev) and chrome://tracing open: one track per rank, named
// "rank N", a complete event ("ph":"X") per call with its details in args,
// and a flow ("ph":"s" on the send, "ph":"f" on the receive, both bound to
// the enclosing call) per message. otherData.clocks says how each rank's
// clock was aligned.
func WriteJSON(w io.Writer, tl *Timeline) error { return writeJSON(w, tl, true) }

// writeJSON is WriteJSON; shared says whether the events of calls alike
// (see callShape) are written from the parts they share, encoded once per
// lane, or each field by field (for tests: both write the same bytes).
func writeJSON(w io.Writer, tl *Timeline, shared bool) error {
	return newJSONWriter(w, len(tl.Lanes), tl.Origin, shared).Finish(tl)
}

// A JSONWriter writes a WriteJSON file a lane at a time: gorun writes the
// lanes of the ranks that have finished while the others still run
// (Lane), and the others and the messages once the job is over (Finish).
// The file holds the same events as WriteJSON's, the lanes in the order
// written.
type JSONWriter struct {
	o      object
	shapes shapeCache
	origin int64
	shared bool
	done   []bool
}

// NewJSONWriter starts the file of a timeline of lanes lanes whose Origin
// will be origin (see FirstStart), writing its head to w.
func NewJSONWriter(w io.Writer, lanes int, origin int64) *JSONWriter {
	return newJSONWriter(w, lanes, origin, true)
}

func newJSONWriter(w io.Writer, lanes int, origin int64, shared bool) *JSONWriter {
	jw := &JSONWriter{o: newObject(w), origin: origin, shared: shared, done: make([]bool, lanes)}
	o := &jw.o
	o.b = append(o.b, `{"displayTimeUnit":"ns","traceEvents":[`+"\n"...)
	first := len(o.b)
	o.event("M", "process_name", 0, 0)
	o.b = append(o.b[:first], o.b[first+2:]...) // the first event: no comma before it
	o.raw("args", `{"name":"gorun job"}`)
	o.end()
	return jw
}

// Lane writes the events of lane, a lane of the timeline to come (its
// Calls on the launcher's clock, in order: see Rank.Prepare), unless they
// were written.
func (jw *JSONWriter) Lane(lane Lane) {
	if lane.Rank < 0 || lane.Rank >= len(jw.done) || jw.done[lane.Rank] {
		return
	}
	jw.done[lane.Rank] = true
	jw.o.laneEvents(lane, jw.origin, &jw.shapes, jw.shared)
}

// ErrOriginMoved reports a timeline whose zero is not the one a
// JSONWriter's lanes were written from.
var ErrOriginMoved = errors.New("trace: the timeline's zero is not the one its lanes were written from")

// Finish writes the lanes of tl not written yet, its messages and how
// each rank's clock was aligned, and returns the first error of the
// writer. A tl whose Origin is not the writer's gets nothing more written
// and ErrOriginMoved.
func (jw *JSONWriter) Finish(tl *Timeline) error {
	if tl.Origin != jw.origin || len(tl.Lanes) != len(jw.done) {
		return ErrOriginMoved
	}
	clocks := map[string]string{}
	for _, lane := range tl.Lanes {
		clocks[fmt.Sprintf("rank %d", lane.Rank)] = lane.Clock
	}
	other, err := json.Marshal(map[string]any{"clocks": clocks})
	if err != nil {
		return fmt.Errorf("trace: encode clocks: %w", err)
	}
	for _, lane := range tl.Lanes {
		jw.Lane(lane)
	}
	o := &jw.o
	o.flowEvents(tl, tl.WaitFlows())
	o.b = append(o.b, "\n],\n\"otherData\":"...)
	o.b = append(o.b, other...)
	o.b = append(o.b, "}\n"...)
	if err := o.close(); err != nil {
		return fmt.Errorf("trace: write: %w", err)
	}
	return nil
}

// writeChunk is about how many bytes the writers pass to their io.Writer
// at once: few system calls, and one buffer that stays in the cache.
const writeChunk = 1 << 16

// event starts an event, after a comma and a newline, with its phase,
// name, track and time.
func (o *object) event(ph, name string, tid int, ts int64) {
	o.b = append(o.b, `,
{"ph":`...)
	o.b = appendString(o.b, ph)
	o.b = append(o.b, `,"name":`...)
	o.b = appendString(o.b, name)
	o.b = appendTrack(o.b, tid)
	o.b = appendMicros(o.b, ts)
}

// appendTrack appends an event's fields from "pid" to "ts", its value
// left to follow.
func appendTrack(b []byte, tid int) []byte {
	b = append(b, `,"pid":`...)
	b = strconv.AppendInt(b, JSONPid, 10)
	b = append(b, `,"tid":`...)
	b = strconv.AppendInt(b, int64(tid), 10)
	return append(b, `,"ts":`...)
}

// end ends an event, and passes what o holds on to its writer once it is
// writeChunk bytes or more.
func (o *object) end() {
	o.b = append(o.b, '}')
	if len(o.b) >= writeChunk {
		o.flush()
	}
}

// flushFull writes b, which o holds, once it is writeChunk bytes or
// more, and returns what to go on appending to.
func (o *object) flushFull(b []byte) []byte {
	if len(b) < writeChunk {
		return b
	}
	o.b = b
	o.flush()
	return o.b
}

// flush writes what o holds; after an error it writes no more.
func (o *object) flush() {
	if o.err == nil && len(o.b) > 0 {
		_, o.err = o.w.Write(o.b)
	}
	o.b = o.b[:0]
}

// laneEvents writes a lane's events, each after a comma: its track's name
// and order, its calls (their times from origin), and what it lacks. With
// shared, a call's event is written from the parts it shares with the
// calls alike (shapes), the parts encoded at the first of them.
func (o *object) laneEvents(lane Lane, origin int64, shapes *shapeCache, shared bool) {
	tid := JSONTid(lane.Rank)
	o.event("M", "thread_name", tid, 0)
	o.raw("args", `{"name":"rank `+strconv.Itoa(lane.Rank)+`"}`)
	o.end()
	o.event("M", "thread_sort_index", tid, 0)
	o.raw("args", `{"sort_index":`+strconv.Itoa(lane.Rank)+`}`)
	o.end()
	shapes.reset()
	for i := range lane.Calls {
		c := &lane.Calls[i]
		var parts *shapeParts
		if shared {
			parts = shapes.find(c, func(p *shapeParts) { p.json = jsonParts(c, tid) })
		}
		if parts == nil || parts.json.head == nil {
			o.event("X", c.Op, tid, c.Start-origin)
			o.str("cat", Category(*c))
			o.micros("dur", max(c.End-c.Start, 1))
			o.key("args")
			appendCallArgs(o, c)
			o.end()
			continue
		}
		p := &parts.json
		o.b = append(o.b, p.head...)
		o.b = appendMicros(o.b, c.Start-origin)
		o.b = append(o.b, p.mid...)
		o.b = appendMicros(o.b, max(c.End-c.Start, 1))
		o.b = append(o.b, p.args...)
		if c.Flags.Has(HasSend) {
			o.b = appendUint(o.b, c.SendSeq)
			o.b = append(o.b, p.rest...)
		}
		o.end()
	}
	for _, note := range laneNotes(lane) {
		o.event("i", note, tid, laneEnd(lane, origin))
		o.str("cat", "gorun")
		o.str("s", "t")
		o.end()
	}
}

// jsonShape is the JSON of a call's event, but for its times and its
// send's number: head, start, mid, duration, args, then for a call that
// sends, its number and rest.
type jsonShape struct{ head, mid, args, rest []byte }

// jsonParts encodes the parts of c's event on track tid that the calls
// of its shape share.
func jsonParts(c *Record, tid int) jsonShape {
	var p jsonShape
	o := object{b: make([]byte, 0, 256)}
	o.event("X", c.Op, tid, 0)
	o.b = o.b[:len(o.b)-len("0.000")]
	p.head = o.b
	o = object{b: append(make([]byte, 0, 256), '"')} // a value before: "cat" takes a comma
	o.str("cat", Category(*c))
	o.key("dur")
	p.mid = o.b[1:]
	o = object{b: append(make([]byte, 0, 256), '0')}
	o.key("args")
	if c.Flags.Has(HasSend) {
		appendArgsHead(&o, c)
		p.args = o.b[1:]
		o = object{b: append(make([]byte, 0, 256), '0')} // the send's number before
		appendArgsTail(&o, c)
		p.rest = o.b[1:]
	} else {
		appendArgsHead(&o, c)
		appendArgsTail(&o, c)
		p.args = o.b[1:]
	}
	return p
}

// flowEvents writes the two events of each of flows, each after a comma.
func (o *object) flowEvents(tl *Timeline, flows []Flow) {
	// Each track's fields of a flow's start and end up to "ts".
	heads := make([][2][]byte, len(tl.Lanes))
	for i, lane := range tl.Lanes {
		for k, ph := range [2]string{"s", "f"} {
			heads[i][k] = appendTrack([]byte(`,
{"ph":"`+ph+`","name":"message"`), JSONTid(lane.Rank))
		}
	}
	for _, f := range flows {
		from := &tl.Lanes[f.From.Rank].Calls[f.From.Call]
		to := &tl.Lanes[f.To.Rank].Calls[f.To.Call]
		o.b = append(o.b, heads[f.From.Rank][0]...)
		o.b = appendMicros(o.b, from.Start-tl.Origin)
		o.b = append(o.b, `,"cat":"message","id":`...)
		o.b = appendInt(o.b, int64(f.ID))
		o.end()
		o.b = append(o.b, heads[f.To.Rank][1]...)
		o.b = appendMicros(o.b, flowEnd(*to)-tl.Origin)
		o.b = append(o.b, `,"cat":"message","id":`...)
		o.b = appendInt(o.b, int64(f.ID))
		o.b = append(o.b, `,"bp":"e"`...)
		o.end()
	}
}

// flowEnd is where a message's arrow ends in the receiving call: when the
// call returned (the message was delivered), within the call's slice.
func flowEnd(c Record) int64 {
	return c.Start + max(c.End-c.Start, 1) - 1
}

// laneEnd is when the lane's last call ended, from origin (0 if none).
func laneEnd(lane Lane, origin int64) int64 {
	end := int64(0)
	for _, c := range lane.Calls {
		end = max(end, c.End-origin)
	}
	return end
}

// laneNotes are what a lane lacks, said on it.
func laneNotes(lane Lane) []string {
	var notes []string
	if lane.Dropped > 0 {
		notes = append(notes, fmt.Sprintf("rank %d's trace buffer was full: %d later calls were not recorded", lane.Rank, lane.Dropped))
	}
	if lane.Missing != "" {
		notes = append(notes, fmt.Sprintf("rank %d %s", lane.Rank, lane.Missing))
	}
	return notes
}

// appendCallArgs writes a call's details, shown when it is selected, as
// the object o continues with.
func appendCallArgs(o *object, c *Record) {
	appendArgsHead(o, c)
	if c.Flags.Has(HasSend) {
		o.b = appendUint(o.b, c.SendSeq)
	}
	appendArgsTail(o, c)
}

// appendArgsHead writes a call's details up to the number of its send,
// whose key it ends with if it sends. Each detail is a field of its own
// (Perfetto lists them when the call is selected): Label's one line,
// which says nothing more, would add 15% to the file (bank: 3.16 MB
// with it, 2.74 without).
func appendArgsHead(o *object, c *Record) {
	o.b = append(o.b, '{')
	if c.Comm != 0 {
		o.num("communicator", int64(c.Comm))
	}
	if c.Flags.Has(HasSend) {
		o.num("dest", int64(c.DestLocal))
		o.num("send_tag", int64(c.SendTag))
		o.num("send_bytes", int64(c.SendSize))
		o.key("send_seq")
	}
}

// appendArgsTail writes a call's details after the number of its send.
func appendArgsTail(o *object, c *Record) {
	if c.Flags.Has(HasRecv) {
		o.num("source", int64(c.SourceLocal))
		o.num("recv_tag", int64(c.RecvTag))
		o.num("recv_bytes", int64(c.RecvSize))
	}
	if c.Note != "" {
		o.str("note", c.Note)
	}
	if c.Flags.Has(Unfinished) {
		o.raw("unfinished", "true")
	}
	if c.Flags.Has(Failed) {
		o.str("error", c.Err)
	}
	o.b = append(o.b, '}')
}
