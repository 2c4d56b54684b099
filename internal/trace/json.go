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

// jsonEvent is one Chrome trace event.
type jsonEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   json.Number    `json:"ts"`
	Dur  json.Number    `json:"dur,omitempty"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	ID   int            `json:"id,omitempty"`
	Bp   string         `json:"bp,omitempty"`
	S    string         `json:"s,omitempty"`
	Args map[string]any `json:"args,omitempty"`
}

// JSONPid is the process every rank's track belongs to in WriteJSON's
// output, and JSONTid(rank) the track (thread) of a rank.
const JSONPid = 1

// JSONTid is the track id of rank in WriteJSON's output.
func JSONTid(rank int) int { return rank + 1 }

// micros writes ns as microseconds with nanosecond precision, the unit of
// the trace-event format.
func micros(ns int64) json.Number {
	return json.Number(strconv.FormatFloat(float64(ns)/1e3, 'f', 3, 64))
}

// WriteJSON writes tl in the Chrome trace-event format that Perfetto
// (ui.perfetto.dev) and chrome://tracing open: one track per rank, named
// "rank N", a complete event ("ph":"X") per call with its details in args,
// and a flow ("ph":"s" on the send, "ph":"f" on the receive, both bound to
// the enclosing call) per message.
func WriteJSON(w io.Writer, tl *Timeline) error {
	bw := bufio.NewWriter(w)
	first := true
	emit := func(e jsonEvent) error {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("trace: encode event: %w", err)
		}
		if !first {
			bw.WriteString(",\n")
		}
		first = false
		_, err = bw.Write(b)
		return err
	}
	bw.WriteString(`{"displayTimeUnit":"ns","traceEvents":[` + "\n")
	if err := emit(jsonEvent{Name: "process_name", Ph: "M", Ts: "0", Pid: JSONPid, Args: map[string]any{"name": "gorun job"}}); err != nil {
		return err
	}
	for _, lane := range tl.Lanes {
		tid := JSONTid(lane.Rank)
		meta := []jsonEvent{
			{Name: "thread_name", Ph: "M", Ts: "0", Pid: JSONPid, Tid: tid, Args: map[string]any{"name": fmt.Sprintf("rank %d", lane.Rank)}},
			{Name: "thread_sort_index", Ph: "M", Ts: "0", Pid: JSONPid, Tid: tid, Args: map[string]any{"sort_index": lane.Rank}},
		}
		for _, e := range meta {
			if err := emit(e); err != nil {
				return err
			}
		}
		for _, c := range lane.Calls {
			if err := emit(jsonEvent{Name: c.Op, Cat: Category(c), Ph: "X", Ts: micros(c.Start), Dur: micros(max(c.End-c.Start, 1)),
				Pid: JSONPid, Tid: tid, Args: callArgs(c)}); err != nil {
				return err
			}
		}
		for _, note := range laneNotes(lane) {
			if err := emit(jsonEvent{Name: note, Cat: "gorun", Ph: "i", S: "t", Ts: micros(laneEnd(lane)), Pid: JSONPid, Tid: tid}); err != nil {
				return err
			}
		}
	}
	for _, f := range tl.Flows {
		from := tl.Lanes[f.From.Rank].Calls[f.From.Call]
		to := tl.Lanes[f.To.Rank].Calls[f.To.Call]
		if err := emit(jsonEvent{Name: "message", Cat: "message", Ph: "s", ID: f.ID, Ts: micros(from.Start),
			Pid: JSONPid, Tid: JSONTid(f.From.Rank)}); err != nil {
			return err
		}
		if err := emit(jsonEvent{Name: "message", Cat: "message", Ph: "f", Bp: "e", ID: f.ID, Ts: micros(flowEnd(to)),
			Pid: JSONPid, Tid: JSONTid(f.To.Rank)}); err != nil {
			return err
		}
	}
	clocks := map[string]string{}
	for _, lane := range tl.Lanes {
		clocks[fmt.Sprintf("rank %d", lane.Rank)] = lane.Clock
	}
	other, err := json.Marshal(map[string]any{"clocks": clocks})
	if err != nil {
		return fmt.Errorf("trace: encode clocks: %w", err)
	}
	bw.WriteString("\n],\n\"otherData\":")
	bw.Write(other)
	bw.WriteString("}\n")
	return bw.Flush()
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

// callArgs are a call's details, shown when it is selected.
func callArgs(c Record) map[string]any {
	args := map[string]any{"call": Label(c)}
	if c.Comm != 0 {
		args["communicator"] = c.Comm
	}
	if c.Flags.Has(HasSend) {
		args["dest"], args["send_tag"], args["send_bytes"], args["send_seq"] = c.DestLocal, c.SendTag, c.SendSize, c.SendSeq
	}
	if c.Flags.Has(HasRecv) {
		args["source"], args["recv_tag"], args["recv_bytes"] = c.SourceLocal, c.RecvTag, c.RecvSize
	}
	if c.Note != "" {
		args["note"] = c.Note
	}
	if c.Flags.Has(Unfinished) {
		args["unfinished"] = true
	}
	if c.Flags.Has(Failed) {
		args["error"] = c.Err
	}
	return args
}
