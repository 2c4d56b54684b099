package trace

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// referenceFlows is matchMessages written plainly: per envelope, the
// sends by number and the receives in posting order, the n-th receive
// joined to the n-th send if it was recorded; flows ordered by send.
func referenceFlows(lanes []Lane) []Flow {
	type recv struct {
		post uint64
		ref  CallRef
	}
	sends := map[envelope]map[uint64]CallRef{}
	recvs := map[envelope][]recv{}
	for _, lane := range lanes {
		for j, c := range lane.Calls {
			ref := CallRef{Rank: lane.Rank, Call: j}
			if c.Flags.Has(HasSend) && c.SendSeq > 0 {
				env := envelope{lane.Rank, c.Dest, c.Comm, c.SendTag}
				if sends[env] == nil {
					sends[env] = map[uint64]CallRef{}
				}
				sends[env][c.SendSeq] = ref
			}
			if c.Flags.Has(HasRecv) {
				env := envelope{c.Source, lane.Rank, c.Comm, c.RecvTag}
				recvs[env] = append(recvs[env], recv{c.RecvPost, ref})
			}
		}
	}
	var flows []Flow
	for env, list := range recvs {
		slices.SortStableFunc(list, func(a, b recv) int { return cmp.Compare(a.post, b.post) })
		for n, r := range list {
			if from, ok := sends[env][uint64(n+1)]; ok {
				flows = append(flows, Flow{From: from, To: r.ref})
			}
		}
	}
	slices.SortFunc(flows, func(a, b Flow) int {
		return cmp.Or(cmp.Compare(a.From.Rank, b.From.Rank), cmp.Compare(a.From.Call, b.From.Call))
	})
	for i := range flows {
		flows[i].ID = i + 1
	}
	return flows
}

// TestMatchMessagesAsReference: for seeded random lanes of sends and
// receives on a few envelopes (sends missing from the record, numbered
// twice or beyond the receives, receives posted in any order, ranks with
// no calls, Sendrecvs), matchMessages finds the flows the plain
// algorithm finds, in the same order.
func TestMatchMessagesAsReference(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		np := 1 + rng.IntN(5)
		lanes := make([]Lane, np)
		for r := range lanes {
			lanes[r].Rank = r
			if rng.IntN(6) == 0 {
				continue // a rank that made no call
			}
			for i := rng.IntN(50); i > 0; i-- {
				c := Record{Op: "Call", Comm: uint32(rng.IntN(2))}
				if rng.IntN(2) == 0 {
					c.Flags |= HasSend
					c.Dest, c.SendTag, c.SendSeq = rng.IntN(np), rng.IntN(2), uint64(rng.IntN(12))
				}
				if rng.IntN(2) == 0 {
					c.Flags |= HasRecv
					c.Source, c.RecvTag, c.RecvPost = rng.IntN(np), rng.IntN(2), uint64(rng.IntN(30))
				}
				lanes[r].Calls = append(lanes[r].Calls, c)
			}
		}
		got, want := matchMessages(lanes), referenceFlows(lanes)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: flows\n got %v\nwant %v", seed, got, want)
		}
	}
}

// TestMergeMatchingWritesWhatMergeWrites: joining the messages on a
// goroutine of their own while the lanes are written changes nothing in
// the files: for the bank example's buffers and a seeded random job of
// sends, receives and Sendrecvs between a few ranks, MergeMatching's
// timeline has Merge's flows and WriteJSON and WriteHTML write the same
// bytes from either (run with -race: the writers and the joining only
// read the calls).
func TestMergeMatchingWritesWhatMergeWrites(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	random := func() []Rank {
		np := 2 + rng.IntN(4)
		ranks := make([]Rank, np)
		sent := map[envelope]uint64{}
		now := int64(1_700_000_000_000_000_000)
		for i := 500 + rng.IntN(500); i > 0; i-- {
			from, to := rng.IntN(np), rng.IntN(np)
			env := envelope{from, to, uint32(rng.IntN(2)), rng.IntN(3)}
			sent[env]++
			size := rng.IntN(5000)
			start := now + rng.Int64N(1000)
			ranks[from].Records = append(ranks[from].Records, Record{Op: "Send", Flags: HasSend, Comm: env.comm, Start: start,
				End: start + rng.Int64N(2000), Dest: to, DestLocal: to, SendTag: env.tag, SendSize: size, SendSeq: sent[env]})
			ranks[to].Records = append(ranks[to].Records, Record{Op: "Recv", Flags: HasRecv, Comm: env.comm, Start: now,
				End: now + rng.Int64N(3000), Source: from, SourceLocal: from, RecvTag: env.tag, RecvSize: size, RecvPost: sent[env]})
			now += rng.Int64N(2000)
		}
		for r := range ranks {
			ranks[r].Offset = rng.Int64N(1000) - 500
		}
		return ranks
	}
	bank := func() []Rank {
		mems := bankBuffers(t)
		ranks := make([]Rank, len(mems))
		for r, mem := range mems {
			var err error
			if ranks[r].Records, _, err = ReadBuffer(nil, mem, 0); err != nil {
				t.Fatal(err)
			}
		}
		return ranks
	}
	clone := func(ranks []Rank) []Rank {
		out := slices.Clone(ranks)
		for r := range out {
			out[r].Records = slices.Clone(ranks[r].Records)
		}
		return out
	}
	for _, job := range []struct {
		name  string
		ranks []Rank
	}{{"bank", bank()}, {"random", random()}} {
		want := Merge(clone(job.ranks))
		for _, write := range []struct {
			name string
			fn   func(io.Writer, *Timeline) error
		}{
			{"json", WriteJSON},
			{"html", func(w io.Writer, tl *Timeline) error { return WriteHTML(w, tl, job.name) }},
		} {
			var a, b bytes.Buffer
			if err := write.fn(&a, want); err != nil {
				t.Fatal(err)
			}
			got := MergeMatching(clone(job.ranks))
			if err := write.fn(&b, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.WaitFlows(), want.Flows) || len(want.Flows) == 0 {
				t.Fatalf("%s: MergeMatching joined %d messages, Merge %d (or they differ)", job.name, len(got.Flows), len(want.Flows))
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatalf("%s %s: MergeMatching's timeline wrote %d bytes, Merge's %d, not the same", job.name, write.name, b.Len(), a.Len())
			}
		}
	}
}

// TestStartsAfterIsByStart: the check Merge makes of a lane's order says
// what the order it sorts by (byStart) says, ties of start and end too.
func TestStartsAfterIsByStart(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		a := Record{Start: rng.Int64N(4), End: rng.Int64N(4)}
		b := Record{Start: rng.Int64N(4), End: rng.Int64N(4)}
		if got, want := startsAfter(&a, &b), byStart(a, b) > 0; got != want {
			t.Fatalf("startsAfter(%d-%d, %d-%d) = %v, byStart says %v", a.Start, a.End, b.Start, b.End, got, want)
		}
	}
}

// TestPreparedRanksMergeAsOthers: ranks prepared as their records arrive
// (Rank.Prepare, as gorun does while the others still run) merge into the
// very files of ranks Merge prepares itself, whatever Offset they had; and
// the file shows every call at its start on the launcher's clock (its own
// minus its rank's offset) from the earliest call's, which is at 0.
func TestPreparedRanksMergeAsOthers(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 13))
	for range 30 {
		np := 1 + rng.IntN(4)
		ranks := make([]Rank, np)
		now := int64(1_700_000_000_000_000_000)
		for r := range ranks {
			ranks[r].Offset = rng.Int64N(2_000_000) - 1_000_000
			for i := rng.IntN(30); i > 0; i-- {
				start := now + rng.Int64N(1_000_000)
				if rng.IntN(5) == 0 {
					start -= 2_000_000 // out of order
				}
				ranks[r].Records = append(ranks[r].Records, Record{Op: "Barrier", Start: start, End: start + rng.Int64N(3000) - 500})
			}
		}
		clone := func() []Rank {
			out := slices.Clone(ranks)
			for r := range out {
				out[r].Records = slices.Clone(ranks[r].Records)
			}
			return out
		}
		want := Merge(clone())
		prepared := clone()
		for r := range prepared {
			if rng.IntN(2) == 0 {
				prepared[r].Prepare()
				if prepared[r].Offset != 0 {
					t.Fatalf("rank %d prepared keeps an offset of %d", r, prepared[r].Offset)
				}
			}
		}
		got := MergeMatching(prepared)
		for _, write := range []func(io.Writer, *Timeline) error{WriteJSON, func(w io.Writer, tl *Timeline) error { return WriteHTML(w, tl, "t") }} {
			var a, b bytes.Buffer
			if err := write(&a, want); err != nil {
				t.Fatal(err)
			}
			if err := write(&b, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatalf("prepared ranks wrote %d bytes, unprepared %d, not the same", b.Len(), a.Len())
			}
		}
		// The calls' starts in the file, by rank, against the records'.
		var js bytes.Buffer
		if err := WriteJSON(&js, got); err != nil {
			t.Fatal(err)
		}
		var file struct {
			TraceEvents []struct {
				Ph  string  `json:"ph"`
				Tid int     `json:"tid"`
				Ts  float64 `json:"ts"`
			} `json:"traceEvents"`
		}
		if err := json.Unmarshal(js.Bytes(), &file); err != nil {
			t.Fatal(err)
		}
		var starts [][]int64
		first := int64(math.MaxInt64)
		for r := range ranks {
			var list []int64
			for _, rec := range ranks[r].Records {
				list = append(list, rec.Start-ranks[r].Offset)
				first = min(first, rec.Start-ranks[r].Offset)
			}
			slices.Sort(list)
			starts = append(starts, list)
		}
		shown := make([][]int64, np)
		for _, e := range file.TraceEvents {
			if e.Ph == "X" {
				shown[e.Tid-1] = append(shown[e.Tid-1], int64(math.Round(e.Ts*1000)))
			}
		}
		for r := range ranks {
			for i := range starts[r] {
				starts[r][i] -= first
			}
			slices.Sort(shown[r])
			if !slices.Equal(shown[r], starts[r]) {
				t.Fatalf("rank %d (offset %d): calls shown at %v ns, want %v", r, ranks[r].Offset, shown[r], starts[r])
			}
		}
	}
}
