package trace

import (
	"cmp"
	"slices"
	"strconv"
)

// Rank is what the launcher has of one rank: its records and how to put
// them on the launcher's clock.
type Rank struct {
	Records []Record
	Offset  int64  // the rank's clock minus the launcher's (see Offset), in ns
	Dropped uint64 // calls the rank did not record: its buffer was full
	// Missing says why the records are absent or end early ("" when the
	// rank handed over its whole trace), e.g. "exited without handing over
	// its trace".
	Missing string
	// Clock says how Offset was found, e.g. "same host as gorun: one
	// clock" or "measured: +12.5 us ± 40 us".
	Clock string
}

// Timeline is a job's merged trace: one lane per rank, on one clock whose
// zero is the earliest call, and the messages between them.
type Timeline struct {
	Lanes []Lane
	Flows []Flow
	End   int64 // the latest time of any call, in ns
}

// Lane is one rank's calls, sorted by start (a call before the calls
// nested in it, as WaitAny's Tests are).
type Lane struct {
	Rank    int
	Calls   []Record // Start and End on the timeline's clock
	Dropped uint64
	Missing string
	Clock   string
}

// Flow is one message: the call that sent it and the call that received
// it, as indexes into their lanes' Calls.
type Flow struct {
	ID       int
	From, To CallRef
}

// CallRef names one call of a Timeline.
type CallRef struct{ Rank, Call int }

// envelope is what non-overtaking order is defined over.
type envelope struct {
	src, dst int
	comm     uint32
	tag      int
}

// Merge puts every rank's records on one clock (the launcher's, shifted so
// that the earliest call starts at 0) and joins each receive to the send
// whose message it took: the n-th receive, in posting order, of the
// messages from one rank with one tag on one communicator took the n-th such
// message sent (MPI's non-overtaking order). A receive whose send was not
// recorded (the sender's buffer was full, or the sender died) gets no flow.
// The lanes take over the ranks' Records: Merge changes them in place
// (their times, their order).
func Merge(ranks []Rank) *Timeline {
	tl := &Timeline{Lanes: make([]Lane, len(ranks))}
	origin, any := int64(0), false
	for _, r := range ranks {
		for _, rec := range r.Records {
			if t := rec.Start - r.Offset; !any || t < origin {
				origin, any = t, true
			}
		}
	}
	for i, r := range ranks {
		calls := r.Records // taken over: a trace's records are many
		for j := range calls {
			rec := &calls[j]
			rec.Start -= r.Offset + origin
			rec.End -= r.Offset + origin
			if rec.End < rec.Start {
				rec.End = rec.Start
			}
			tl.End = max(tl.End, rec.End)
		}
		// A rank's records come mostly in the order the calls began:
		// checking costs a pass, sorting moves every record.
		if !slices.IsSortedFunc(calls, byStart) {
			slices.SortStableFunc(calls, byStart)
		}
		tl.Lanes[i] = Lane{Rank: i, Calls: calls, Dropped: r.Dropped, Missing: r.Missing, Clock: r.Clock}
	}
	tl.Flows = matchMessages(tl.Lanes)
	return tl
}

// byStart orders calls by start, a call before those nested in it.
func byStart(a, b Record) int {
	if a.Start != b.Start {
		return cmp.Compare(a.Start, b.Start)
	}
	return cmp.Compare(b.End, a.End)
}

// envelopeCalls are the sends and receives of one envelope: sends by
// their number (sends[n-1] sent the n-th message), receives as found.
type envelopeCalls struct {
	sends []CallRef // Rank -1: the n-th send was not recorded
	recvs []postedRecv
}

type postedRecv struct {
	post uint64
	ref  CallRef
}

// matchMessages pairs sends and receives (see Merge).
func matchMessages(lanes []Lane) []Flow {
	envs := map[envelope]*envelopeCalls{}
	// A lane's calls mostly repeat the envelope of the call before.
	var lastEnv envelope
	var last *envelopeCalls
	find := func(env envelope) *envelopeCalls {
		if last != nil && env == lastEnv {
			return last
		}
		ec := envs[env]
		if ec == nil {
			ec = &envelopeCalls{}
			envs[env] = ec
		}
		lastEnv, last = env, ec
		return ec
	}
	for _, lane := range lanes {
		for j, c := range lane.Calls {
			ref := CallRef{Rank: lane.Rank, Call: j}
			if c.Flags.Has(HasSend) && c.SendSeq > 0 && c.SendSeq <= uint64(len(lane.Calls)) {
				ec := find(envelope{lane.Rank, c.Dest, c.Comm, c.SendTag})
				n := int(c.SendSeq)
				for len(ec.sends) < n {
					ec.sends = append(ec.sends, CallRef{Rank: -1})
				}
				ec.sends[n-1] = ref
			}
			if c.Flags.Has(HasRecv) {
				ec := find(envelope{c.Source, lane.Rank, c.Comm, c.RecvTag})
				ec.recvs = append(ec.recvs, postedRecv{c.RecvPost, ref})
			}
		}
	}
	var flows []Flow
	for _, ec := range envs {
		byPost := func(a, b postedRecv) int { return cmp.Compare(a.post, b.post) }
		if !slices.IsSortedFunc(ec.recvs, byPost) {
			slices.SortFunc(ec.recvs, byPost)
		}
		for n, p := range ec.recvs {
			if n >= len(ec.sends) {
				break
			}
			if from := ec.sends[n]; from.Rank >= 0 {
				flows = append(flows, Flow{From: from, To: p.ref})
			}
		}
	}
	flows = bySender(lanes, flows)
	for i := range flows {
		flows[i].ID = i + 1
	}
	return flows
}

// Label describes a call as a person reads it, e.g.
// "Send(dest 1, tag 0, 8 B)" or "Sendrecv(dest 1, tag 0, 8 B; source 3, tag 0, 8 B)".
func Label(c Record) string {
	return string(AppendLabel(make([]byte, 0, 64), c))
}

// AppendLabel appends Label(c) to b.
func AppendLabel(b []byte, c Record) []byte { return appendLabel(b, c, appendText) }

func appendText(b []byte, s string) []byte { return append(b, s...) }

// appendLabel appends Label(c) to b, its texts (the call's name, note and
// error) through text: as they are, or escaped for a JSON string.
func appendLabel(b []byte, c Record, text func(b []byte, s string) []byte) []byte {
	b = text(b, c.Op)
	b = append(b, '(')
	parts := false
	sep := func() {
		if parts {
			b = append(b, "; "...)
		}
		parts = true
	}
	if c.Flags.Has(HasSend) {
		sep()
		b = append(b, "dest "...)
		b = strconv.AppendInt(b, int64(c.DestLocal), 10)
		b = append(b, ", tag "...)
		b = strconv.AppendInt(b, int64(c.SendTag), 10)
		b = append(b, ", "...)
		b = appendByteCount(b, c.SendSize)
	}
	if c.Flags.Has(HasRecv) {
		sep()
		b = append(b, "source "...)
		b = strconv.AppendInt(b, int64(c.SourceLocal), 10)
		b = append(b, ", tag "...)
		b = strconv.AppendInt(b, int64(c.RecvTag), 10)
		b = append(b, ", "...)
		b = appendByteCount(b, c.RecvSize)
	}
	if c.Note != "" {
		sep()
		b = text(b, c.Note)
	}
	b = append(b, ')')
	if c.Comm != 0 {
		b = append(b, " on communicator "...)
		b = strconv.AppendUint(b, uint64(c.Comm), 10)
	}
	if c.Flags.Has(Unfinished) {
		b = append(b, ": had not returned"...)
	}
	if c.Flags.Has(Failed) {
		b = append(b, ": "...)
		b = text(b, c.Err)
	}
	return b
}

func byteCount(n int) string { return string(appendByteCount(nil, n)) }

// appendByteCount appends n bytes as a person reads them: 8 B, 4 KiB, 2 MiB.
func appendByteCount(b []byte, n int) []byte {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return append(strconv.AppendInt(b, int64(n>>20), 10), " MiB"...)
	case n >= 1<<10 && n%(1<<10) == 0:
		return append(strconv.AppendInt(b, int64(n>>10), 10), " KiB"...)
	}
	return append(strconv.AppendInt(b, int64(n), 10), " B"...)
}

// bySender orders flows by their send (rank, then call) in one pass: a
// call sends one message at most, so each call of each lane has one place.
// (Found in a map, the flows come in no order; sorting them was a tenth of
// a trace's merge and write.)
func bySender(lanes []Lane, flows []Flow) []Flow {
	base := make([]int, len(lanes)+1)
	for i, lane := range lanes {
		if lane.Rank != i {
			return sortBySender(flows)
		}
		base[i+1] = base[i] + len(lane.Calls)
	}
	at := make([]int32, base[len(lanes)]) // flow index + 1 at its send's place
	for i, f := range flows {
		p := base[f.From.Rank] + f.From.Call
		if at[p] != 0 {
			return sortBySender(flows)
		}
		at[p] = int32(i + 1)
	}
	out := make([]Flow, 0, len(flows))
	for _, i := range at {
		if i != 0 {
			out = append(out, flows[i-1])
		}
	}
	return out
}

func sortBySender(flows []Flow) []Flow {
	slices.SortFunc(flows, func(a, b Flow) int {
		if a.From.Rank != b.From.Rank {
			return cmp.Compare(a.From.Rank, b.From.Rank)
		}
		return cmp.Compare(a.From.Call, b.From.Call)
	})
	return flows
}
