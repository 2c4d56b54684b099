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

	// What Prepare found: the earliest start and latest end of the
	// records, and how many records it prepared, plus one (0: none yet).
	first, last int64
	prepared    int
}

// Prepare puts r's records on the launcher's clock, taking Offset off
// their times (Offset is then 0), in the order Lane keeps, each ending no
// earlier than it starts, and notes the earliest start and latest end.
// Merge prepares the ranks it is given; gorun prepares each rank's records
// as they arrive, while the others still run, and Merge finds them ready.
func (r *Rank) Prepare() {
	calls := r.Records
	sorted := true
	r.first, r.last = 0, 0
	for j := range calls {
		rec := &calls[j]
		rec.Start -= r.Offset
		rec.End = max(rec.End-r.Offset, rec.Start)
		if j == 0 || rec.Start < r.first {
			r.first = rec.Start
		}
		r.last = max(r.last, rec.End)
		if j > 0 && sorted && startsAfter(&calls[j-1], rec) {
			sorted = false
		}
	}
	// A rank's records come mostly in the order the calls began:
	// checking costs nothing more, sorting moves every record.
	if !sorted {
		slices.SortStableFunc(calls, byStart)
	}
	r.Offset, r.prepared = 0, len(calls)+1
}

// First is the start of r's earliest record as Prepare found it; false
// before Prepare, or when r has no records.
func (r *Rank) First() (int64, bool) {
	if r.prepared != len(r.Records)+1 || len(r.Records) == 0 {
		return 0, false
	}
	return r.first, true
}

// Timeline is a job's merged trace: one lane per rank, on the launcher's
// clock, and the messages between them. Its zero, from which the writers
// show times, is Origin, the earliest call's start.
type Timeline struct {
	Lanes  []Lane
	Flows  []Flow
	Origin int64 // the start of the earliest call, in ns on the launcher's clock
	End    int64 // the latest end of any call, in ns from Origin
	// matched is closed once Flows is set, when MergeMatching joins the
	// messages on a goroutine of its own (nil: Flows is set).
	matched chan struct{}
}

// Lane is one rank's calls, sorted by start (a call before the calls
// nested in it, as WaitAny's Tests are).
type Lane struct {
	Rank    int
	Calls   []Record // Start and End on the launcher's clock (see Timeline.Origin)
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

// Merge puts every rank's records on one clock (the launcher's; Origin,
// the timeline's zero, is the earliest call's start) and joins each
// receive to the send whose message it took: the n-th receive, in posting
// order, of the messages from one rank with one tag on one communicator
// took the n-th such message sent (MPI's non-overtaking order). A receive
// whose send was not recorded (the sender's buffer was full, or the sender
// died) gets no flow. The lanes take over the ranks' Records: Merge
// changes them in place (their times, their order; see Rank.Prepare).
func Merge(ranks []Rank) *Timeline {
	tl := mergeLanes(ranks)
	tl.Flows = matchMessages(tl.Lanes)
	return tl
}

// MergeMatching is Merge with the messages joined on a goroutine of its
// own, while the caller writes the lanes (WriteJSON, WriteHTML): both only
// read the calls, and the writers come to the messages last, waiting for
// them there. Flows may be read only through a writer or after WaitFlows.
// On a machine with a core to spare, the joining (a third of what gorun
// does with a trace after the job) costs no time of its own. The lanes'
// other fields (Dropped, Missing, Clock) may be set meanwhile: the joining
// reads a copy of the lanes.
func MergeMatching(ranks []Rank) *Timeline {
	tl := mergeLanes(ranks)
	tl.matched = make(chan struct{})
	lanes := slices.Clone(tl.Lanes)
	go func() {
		defer close(tl.matched)
		tl.Flows = matchMessages(lanes)
	}()
	return tl
}

// WaitFlows waits until tl's messages are joined (see MergeMatching) and
// returns them.
func (tl *Timeline) WaitFlows() []Flow {
	if tl.matched != nil {
		<-tl.matched
	}
	return tl.Flows
}

// mergeLanes is Merge but for the messages: the lanes, on one clock. The
// ranks Prepare found ready cost nothing more: a trace's records are
// many, each pass over them a trip through memory.
func mergeLanes(ranks []Rank) *Timeline {
	tl := &Timeline{Lanes: make([]Lane, len(ranks))}
	any, last := false, int64(0)
	for i := range ranks {
		r := &ranks[i]
		if r.prepared != len(r.Records)+1 || r.Offset != 0 {
			r.Prepare()
		}
		if len(r.Records) > 0 {
			if !any || r.first < tl.Origin {
				tl.Origin = r.first
			}
			if !any || r.last > last {
				last = r.last
			}
			any = true
		}
		tl.Lanes[i] = Lane{Rank: i, Calls: r.Records, Dropped: r.Dropped, Missing: r.Missing, Clock: r.Clock}
	}
	if any {
		tl.End = last - tl.Origin
	}
	return tl
}

// startsAfter reports whether byStart puts a after b (it takes pointers:
// a record is 150 bytes, and the check runs over every one).
func startsAfter(a, b *Record) bool {
	return a.Start > b.Start || a.Start == b.Start && a.End < b.End
}

// byStart orders calls by start, a call before those nested in it.
func byStart(a, b Record) int {
	if a.Start != b.Start {
		return cmp.Compare(a.Start, b.Start)
	}
	return cmp.Compare(b.End, a.End)
}

// matchMessages pairs sends and receives (see Merge), in the lanes of
// Merge (lane i is rank i's), and returns the flows ordered by their send
// (rank, then call). It allocates little: a trace holds up to hundreds of
// thousands of calls, and the fresh memory of a list per envelope grown
// call by call cost gorun more than the matching did (a page fault per
// 4 KiB touched).
func matchMessages(lanes []Lane) []Flow {
	// Calls are numbered across lanes: lane i's are base[i]..base[i+1]-1.
	base := make([]int, len(lanes)+1)
	for i, lane := range lanes {
		base[i+1] = base[i] + len(lane.Calls)
	}
	total := base[len(lanes)]
	// The envelope each call sends and receives on (-1: none), and per
	// envelope how many receives took its messages: only the sends
	// numbered up to that many can be matched.
	ids := map[envelope]int{}
	var envs []envelopeCalls
	var lastEnv envelope
	lastID := -1
	id := func(env envelope) int {
		if lastID >= 0 && env == lastEnv {
			return lastID // a lane's calls mostly repeat the envelope of the call before
		}
		n, ok := ids[env]
		if !ok {
			n = len(envs)
			ids[env] = n
			envs = append(envs, envelopeCalls{})
		}
		lastEnv, lastID = env, n
		return n
	}
	sendEnv, recvEnv := make([]int, total), make([]int, total)
	for i, lane := range lanes {
		for j := range lane.Calls {
			c := &lane.Calls[j]
			g := base[i] + j
			sendEnv[g], recvEnv[g] = -1, -1
			if c.Flags.Has(HasSend) && c.SendSeq > 0 {
				sendEnv[g] = id(envelope{i, c.Dest, c.Comm, c.SendTag})
			}
			if c.Flags.Has(HasRecv) {
				e := id(envelope{c.Source, i, c.Comm, c.RecvTag})
				recvEnv[g] = e
				envs[e].recvs++
			}
		}
	}
	// Each envelope's part of sends (by number) and of recvs.
	at := 0
	for e := range envs {
		envs[e].first, at = at, at+envs[e].recvs
	}
	sends := make([]int, at) // call+1 of the n-th send of each envelope, 0: not recorded
	recvs := make([]postedRecv, at)
	filled := make([]int, len(envs))
	for i, lane := range lanes {
		for j := range lane.Calls {
			g := base[i] + j
			if e := sendEnv[g]; e >= 0 {
				if n := lane.Calls[j].SendSeq; n <= uint64(envs[e].recvs) {
					sends[envs[e].first+int(n)-1] = g + 1
				}
			}
			if e := recvEnv[g]; e >= 0 {
				recvs[envs[e].first+filled[e]] = postedRecv{post: lane.Calls[j].RecvPost, call: g}
				filled[e]++
			}
		}
	}
	// The n-th receive of an envelope in posting order took its n-th
	// message: partner[send] is that receive's call+1.
	partner := sendEnv
	clear(partner)
	flows := 0
	byPost := func(a, b postedRecv) int { return cmp.Compare(a.post, b.post) }
	for _, ec := range envs {
		list := recvs[ec.first : ec.first+ec.recvs]
		if !slices.IsSortedFunc(list, byPost) {
			slices.SortStableFunc(list, byPost)
		}
		for n, p := range list {
			if from := sends[ec.first+n]; from != 0 {
				partner[from-1] = p.call + 1
				flows++
			}
		}
	}
	out := make([]Flow, 0, flows)
	for i := range lanes {
		for g := base[i]; g < base[i+1]; g++ {
			if to := partner[g] - 1; to >= 0 {
				rank := laneOf(base, to)
				out = append(out, Flow{ID: len(out) + 1, From: CallRef{Rank: i, Call: g - base[i]},
					To: CallRef{Rank: rank, Call: to - base[rank]}})
			}
		}
	}
	return out
}

// envelopeCalls counts the receives of one envelope, and says where its
// sends and receives lie in matchMessages's lists.
type envelopeCalls struct{ recvs, first int }

// postedRecv is a receive: when it was posted, and the call.
type postedRecv struct {
	post uint64
	call int
}

// laneOf is the lane of call g: the last i with base[i] <= g.
func laneOf(base []int, g int) int {
	i, _ := slices.BinarySearch(base, g+1)
	return i - 1
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
