package trace

import (
	"bufio"
	"encoding/json"
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
func WriteJSON(w io.Writer, tl *Timeline) error {
	clocks := map[string]string{}
	for _, lane := range tl.Lanes {
		clocks[fmt.Sprintf("rank %d", lane.Rank)] = lane.Clock
	}
	other, err := json.Marshal(map[string]any{"clocks": clocks})
	if err != nil {
		return fmt.Errorf("trace: encode clocks: %w", err)
	}
	o := object{w: bufio.NewWriterSize(w, 1<<16), b: make([]byte, 0, 1<<15)}
	o.w.WriteString(`{"displayTimeUnit":"ns","traceEvents":[` + "\n")
	o.event("M", "process_name", 0, 0)
	o.b = o.b[2:] // the first event: no comma before it
	o.raw("args", `{"name":"gorun job"}`)
	o.end()
	for _, lane := range tl.Lanes {
		o.laneEvents(lane)
	}
	o.flowEvents(tl, tl.Flows)
	o.flush()
	o.w.WriteString("\n],\n\"otherData\":")
	o.w.Write(other)
	o.w.WriteString("}\n")
	if err := o.w.Flush(); err != nil {
		return fmt.Errorf("trace: write: %w", err)
	}
	return nil
}

// event starts an event, after a comma and a newline, with its phase,
// name, track and time.
func (o *object) event(ph, name string, tid int, ts int64) {
	o.b = append(o.b, `,
{"ph":`...)
	o.b = appendString(o.b, ph)
	o.b = append(o.b, `,"name":`...)
	o.b = appendString(o.b, name)
	if tid != o.tid || o.track == nil {
		o.tid = tid
		o.track = append(o.track[:0], `,"pid":`...)
		o.track = strconv.AppendInt(o.track, JSONPid, 10)
		o.track = append(o.track, `,"tid":`...)
		o.track = strconv.AppendInt(o.track, int64(tid), 10)
		o.track = append(o.track, `,"ts":`...)
	}
	o.b = append(o.b, o.track...)
	o.b = appendMicros(o.b, ts)
}

// end ends an event, and passes what o holds on to its writer once it is
// a few pages.
func (o *object) end() {
	o.b = append(o.b, '}')
	if len(o.b) >= 1<<14 {
		o.flush()
	}
}

func (o *object) flush() {
	o.w.Write(o.b)
	o.b = o.b[:0]
}

// laneEvents writes a lane's events, each after a comma: its track's name
// and order, its calls, and what it lacks.
func (o *object) laneEvents(lane Lane) {
	tid := JSONTid(lane.Rank)
	o.event("M", "thread_name", tid, 0)
	o.raw("args", `{"name":"rank `+strconv.Itoa(lane.Rank)+`"}`)
	o.end()
	o.event("M", "thread_sort_index", tid, 0)
	o.raw("args", `{"sort_index":`+strconv.Itoa(lane.Rank)+`}`)
	o.end()
	for i := range lane.Calls {
		c := &lane.Calls[i]
		o.event("X", c.Op, tid, c.Start)
		o.str("cat", Category(*c))
		o.micros("dur", max(c.End-c.Start, 1))
		o.key("args")
		appendCallArgs(o, *c)
		o.end()
	}
	for _, note := range laneNotes(lane) {
		o.event("i", note, tid, laneEnd(lane))
		o.str("cat", "gorun")
		o.str("s", "t")
		o.end()
	}
}

// flowEvents writes the two events of each of flows, each after a comma.
func (o *object) flowEvents(tl *Timeline, flows []Flow) {
	for _, f := range flows {
		from := &tl.Lanes[f.From.Rank].Calls[f.From.Call]
		to := &tl.Lanes[f.To.Rank].Calls[f.To.Call]
		o.event("s", "message", JSONTid(f.From.Rank), from.Start)
		o.str("cat", "message")
		o.num("id", int64(f.ID))
		o.end()
		o.event("f", "message", JSONTid(f.To.Rank), flowEnd(*to))
		o.str("cat", "message")
		o.num("id", int64(f.ID))
		o.str("bp", "e")
		o.end()
	}
}

// flowEnd is where a message's arrow ends in the receiving call: when the
// call returned (the message was delivered), within the call's slice.
func flowEnd(c Record) int64 {
	return c.Start + max(c.End-c.Start, 1) - 1
}

func laneEnd(lane Lane) int64 {
	end := int64(0)
	for _, c := range lane.Calls {
		end = max(end, c.End)
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
func appendCallArgs(o *object, c Record) {
	o.b = append(o.b, '{')
	o.key("call")
	o.b = append(o.b, '"')
	o.b = appendLabel(o.b, c, appendJSONText)
	o.b = append(o.b, '"')
	if c.Comm != 0 {
		o.num("communicator", int64(c.Comm))
	}
	if c.Flags.Has(HasSend) {
		o.num("dest", int64(c.DestLocal))
		o.num("send_tag", int64(c.SendTag))
		o.num("send_bytes", int64(c.SendSize))
		o.unum("send_seq", c.SendSeq)
	}
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
